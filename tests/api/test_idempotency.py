"""Retries after a lost answer: a client whose connection died after the commit sends the request again with the same
Idempotency-Key and gets the first answer, and nothing is recorded twice."""

from __future__ import annotations

import pytest

from domain.roles import PERMISSIONS, Role
from tests.api.http_story import new_version, ok, refused
from tests.api.test_role_matrix import MATRIX, USERS, prepare, request_of

MODEL = {"name": "pd-model", "description": "probability of default"}


def send(api, method: str, path: str, who: str, key: str | None, **kwargs):
    headers = {"Authorization": f"Bearer {api.keys[who]}"} | ({"Idempotency-Key": key} if key else {})
    return api.client.request(method, path, headers=headers, **kwargs)


def _topics(api, count: int) -> list[str]:
    found = api.app.recorder.select_notifications(start=api.events() - count + 1, limit=count)
    return [n.topic.rsplit(":", 1)[-1] for n in found]


def test_a_retried_registration_answers_the_first_answer_and_registers_one_model(api):
    first = send(api, "POST", "/v1/models", "dana", "retry-1", json=MODEL)
    after_first = api.events()
    again = send(api, "POST", "/v1/models", "dana", "retry-1", json=MODEL)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and first.json()["position"] == after_first - 1
    assert api.events() == after_first, "the retry recorded something"
    api.project()
    names = [m["name"] for m in ok(api.get("/v1/models", "dana", limit=500))["items"]]
    assert names.count("pd-model") == 1


def test_a_retry_without_a_key_is_a_new_request(api):
    ok(send(api, "POST", "/v1/models", "dana", None, json=MODEL), 201)
    ok(send(api, "POST", "/v1/models", "dana", None, json=MODEL), 201)
    api.project()
    assert [m["name"] for m in ok(api.get("/v1/models", "dana", limit=500))["items"]].count("pd-model") == 2


def test_the_key_and_the_registration_are_saved_in_one_transaction(api):
    answer = ok(send(api, "POST", "/v1/models", "dana", "atomic", json=MODEL), 201)
    assert _topics(api, 2) == ["IdempotentRequest.Answered", "Model.Registered"]
    assert answer["position"] == api.events() - 1


def test_the_same_key_with_a_different_request_is_refused_and_records_nothing(api):
    ok(send(api, "POST", "/v1/models", "dana", "reused", json=MODEL), 201)
    before = api.events()
    refused(send(api, "POST", "/v1/models", "dana", "reused", json={**MODEL, "name": "another model"}), 409,
            "idempotency_key_reused")
    refused(send(api, "POST", "/v1/datasets", "dana", "reused", json={
        "name": "d", "source": "s", "schema": {"a": "float"}, "row_count": 1, "content_hash": "ab" * 32}), 409,
        "idempotency_key_reused")
    assert api.events() == before


def test_the_same_key_from_another_caller_is_another_request(api):
    ok(api.call("POST", "/v1/users", "root", json={"username": "eve", "role": "data_scientist"}), 201)
    api.keys["eve"] = ok(api.call("POST", "/v1/users/eve/keys", "root", json={"label": "t"}), 201)["api_key"]
    mine = ok(send(api, "POST", "/v1/models", "dana", "shared-key", json=MODEL), 201)
    theirs = ok(send(api, "POST", "/v1/models", "eve", "shared-key", json=MODEL), 201)
    assert mine["model"]["model_id"] != theirs["model"]["model_id"] and theirs["model"]["registered_by"] == "eve"


def test_a_retried_version_import_does_not_add_a_second_version(api):
    model_id, _ = new_version(api)
    api.project()
    dataset = api.get("/v1/datasets", "aud", limit=500).json()["items"][-1]["dataset_id"]
    body = {"artifact_base64": "eA==", "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
            "estimator": "e", "metrics": {"auc": 0.5}, "input_schema": {"a": "float"}, "target": "y", "dataset_ids": [dataset]}
    first = ok(send(api, "POST", f"/v1/models/{model_id}/versions", "dana", "import-2", json=body), 201)
    again = ok(send(api, "POST", f"/v1/models/{model_id}/versions", "dana", "import-2", json=body), 201)
    assert again == first and first["version"]["number"] == 2
    api.project()
    assert ok(api.get(f"/v1/models/{model_id}", "aud"))["versions"] == 2


def test_a_retried_refusal_answers_the_same_refusal_and_records_it_once(api):
    before = api.events()
    for _ in range(2):
        refused(send(api, "POST", "/v1/models", "aud", "not-allowed", json=MODEL), 403, "forbidden")
    assert api.events() == before + 2  # one AccessDenied and its idempotency record
    assert _topics(api, 2) == ["IdempotentRequest.Answered", "Refusal.AccessDenied"]


def test_a_retried_key_issuance_answers_the_same_key_id_but_never_shows_the_key_again(api):
    first = ok(send(api, "POST", "/v1/users/mia/keys", "root", "issue-1", json={"label": "laptop"}), 201)
    again = ok(send(api, "POST", "/v1/users/mia/keys", "root", "issue-1", json={"label": "laptop"}), 201)
    assert first["api_key"].startswith("glk_") and again["api_key"] is None
    assert (again["key_id"], again["position"]) == (first["key_id"], first["position"])


@pytest.mark.parametrize("key", ["", "with space", "x" * 201, "ünïcode"])
def test_a_malformed_idempotency_key_is_refused_and_records_nothing(api, key):
    before = api.events()
    response = api.client.request("POST", "/v1/models", json=MODEL, headers={
        "Authorization": f"Bearer {api.keys['dana']}", "Idempotency-Key": key.encode("utf-8")})
    assert response.status_code == 422, response.text
    assert api.events() == before


#: Secrets a command answers once: its repeat answers null in their place (checked by the key tests above and below).
SHOWN_ONCE = ("api_key", "routing_key")
COMMANDS = {route: entry for route, entry in MATRIX.items() if route[0] in ("POST", "PUT", "DELETE")}


def test_every_command_documents_the_idempotency_key(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    for method, route in COMMANDS:
        names = [p["name"].lower() for p in paths[route][method.lower()].get("parameters", [])]
        assert "idempotency-key" in names, f"{method} {route}"


def test_every_command_repeated_with_its_key_answers_the_first_answer_and_records_nothing(api):
    values, dataset = prepare(api)
    failures = []
    for (method, route), (action, request) in COMMANDS.items():
        who = next(USERS[r] for r in (Role.DATA_SCIENTIST, Role.MANAGER, Role.COMPLIANCE_MANAGER, Role.SUPERADMIN)
                   if r in PERMISSIONS[action])
        kwargs = request_of(route, request, dataset, values)
        path = route.format(**values)
        first = send(api, method, path, who, f"once {method} {route}".replace(" ", "-"), **kwargs)
        after_first = api.events()
        again = send(api, method, path, who, f"once {method} {route}".replace(" ", "-"), **kwargs)
        shown = {k: v for k, v in first.json().items() if k not in SHOWN_ONCE}
        if again.status_code != first.status_code or {k: v for k, v in again.json().items() if k not in SHOWN_ONCE} != shown:
            failures.append(f"{method} {route}: {first.status_code} {first.text[:150]} then {again.status_code} {again.text[:150]}")
        if api.events() != after_first:
            failures.append(f"{method} {route}: the repeat recorded {api.events() - after_first} events")
    assert not failures, "\n".join(failures)


def test_a_repeated_routing_config_creation_answers_no_key_the_second_time(api):
    values, _ = prepare(api)
    body = {"name": "again", "rules": [], "default_version_id": values["served"]}
    first = send(api, "POST", "/v1/routing-configs", "mia", "routing-once", json=body)
    again = send(api, "POST", "/v1/routing-configs", "mia", "routing-once", json=body)
    assert first.json()["routing_key"].startswith("grk_") and again.json()["routing_key"] is None
    assert again.json()["routing_config_id"] == first.json()["routing_config_id"]
