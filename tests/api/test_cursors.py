"""Pagination cursors cannot be forged: a hand-made, tampered, borrowed or transplanted cursor is 400 invalid_cursor,
answered before anything is read, and nothing is recorded."""

from __future__ import annotations

import base64
import json

import pytest


def _refused(api, path: str, who: str, **params) -> None:
    before = api.events()
    response = api.get(path, who, **params)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_cursor"), response.text
    assert api.events() == before


def _first_cursor(api, path: str, who: str, **params) -> str:
    cursor = api.get(path, who, limit=1, **params).json()["next_cursor"]
    assert cursor is not None
    return cursor


@pytest.mark.parametrize("shape", ["unsigned", "signed-looking"])
def test_a_hand_made_cursor_pinning_an_old_position_gives_a_manager_no_time_travel(api, shape):
    body = base64.urlsafe_b64encode(json.dumps({"p": 0, "k": ["", ""]}).encode()).decode().rstrip("=")
    forged = body if shape == "unsigned" else f"{body}.{'A' * 43}"
    _refused(api, "/v1/models", "mia", cursor=forged)


def test_a_cursor_issued_to_another_user_is_refused(api):
    cursor = _first_cursor(api, "/v1/models", "aud")
    _refused(api, "/v1/models", "mia", cursor=cursor)
    assert api.get("/v1/models", "aud", limit=1, cursor=cursor).status_code == 200


def test_a_cursor_kept_by_an_auditor_demoted_to_manager_is_refused(api):
    cursor = _first_cursor(api, "/v1/models", "aud")
    assert api.call("PUT", "/v1/users/aud/role", "root", json={"role": "manager"}).status_code == 200
    _refused(api, "/v1/models", "aud", cursor=cursor)


def test_a_cursor_of_another_list_is_refused(api):
    versions = _first_cursor(api, "/v1/versions", "aud")
    _refused(api, "/v1/deployments", "aud", cursor=versions)  # same key shape, another route
    _refused(api, "/v1/versions", "aud", cursor=versions, status="approved")  # same route, other filters
    _refused(api, "/v1/versions", "aud", cursor=versions, as_of=3)  # same route, another position


def test_a_cursor_with_a_flipped_bit_is_refused(api):
    cursor = _first_cursor(api, "/v1/audit-trail", "aud")
    body, mac = cursor.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for index in range(len(raw)):
        flipped = bytes(raw[:index]) + bytes([raw[index] ^ 1]) + bytes(raw[index + 1:])
        _refused(api, "/v1/audit-trail", "aud", cursor=f"{base64.urlsafe_b64encode(flipped).decode().rstrip('=')}.{mac}")
    signature = bytearray(base64.urlsafe_b64decode(mac + "="))
    signature[0] ^= 0x80
    _refused(api, "/v1/audit-trail", "aud", cursor=f"{body}.{base64.urlsafe_b64encode(bytes(signature)).decode().rstrip('=')}")


def test_a_cursor_from_one_process_pages_on_another_sharing_the_secret(api):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deps import Services

    services = api.client.app.state.services
    other = TestClient(create_app(Services(services.governance, services.db, services.verifier, services.cursor_secret)))
    cursor = _first_cursor(api, "/v1/models", "aud")
    answer = other.get("/v1/models", params={"limit": 1, "cursor": cursor}, headers={"Authorization": f"Bearer {api.keys['aud']}"})
    assert answer.status_code == 200, answer.text
    stranger = TestClient(create_app(Services(services.governance, services.db, services.verifier, b"another secret")))
    refused = stranger.get("/v1/models", params={"limit": 1, "cursor": cursor}, headers={"Authorization": f"Bearer {api.keys['aud']}"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_cursor")


def test_a_page_boundary_on_the_longest_non_ascii_name_gives_a_cursor_the_next_page_accepts(api):
    dana = api.app.authenticate(api.keys["dana"])
    for suffix in "ab":
        api.app.register_model(dana, name="é" * 199 + suffix)
    api.project()
    first = api.get("/v1/models", "aud", limit=1).json()
    while first["items"][0]["name"] != "é" * 199 + "a":
        first = api.get("/v1/models", "aud", limit=1, cursor=first["next_cursor"]).json()
    following = api.get("/v1/models", "aud", limit=1, cursor=first["next_cursor"])
    assert following.status_code == 200 and following.json()["items"][0]["name"] == "é" * 199 + "b"
