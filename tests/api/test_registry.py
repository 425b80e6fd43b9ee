"""GET /v1/registry/versions: from the projection, as of any position, readable by every role (data scientists: own models)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from ledger.database import Database
from projections.runner import catch_up
from tests.projections.test_registry import story


@pytest.fixture
def api(db_url, signer):
    db = Database.from_url(db_url)
    keys: dict[str, str] = {}
    app = story(db, keys=keys)
    catch_up(db, app.mapper)
    return TestClient(create_app(Services(app, db, signer.verifier))), keys, app


def get(client, key, **params):
    return client.get("/v1/registry/versions", params=params, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("user", ["root", "mia", "cora", "aud", "dana"])
def test_every_role_reads_the_registry_now(api, user):
    client, keys, _ = api
    body = get(client, keys[user]).json()
    assert [v["status"] for v in body["items"]] == ["approved"] * 3


def test_a_data_scientist_sees_only_their_own_models(api):
    client, keys, app = api
    assert get(client, keys["dev"]).json()["items"] == []
    model_id = get(client, keys["dana"]).json()["items"][0]["model_id"]
    refused = get(client, keys["dev"], model_id=model_id)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_as_of_a_position_answers_as_things_stood_then(api):
    client, keys, app = api
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    exported = next(n for n in notifications if n.topic.endswith("ModelVersion.Exported"))
    body = get(client, keys["aud"], as_of=exported.id - 1).json()
    assert [v["status"] for v in body["items"]] == ["staged"] and body["as_of_position"] == exported.id - 1
    assert get(client, keys["aud"], as_of=0).json()["items"] == []


def test_as_of_a_time_answers_as_things_stood_then(api):
    client, keys, app = api
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    exported = next(n for n in notifications if n.topic.endswith("ModelVersion.Exported"))
    moment = app.mapper.to_domain_event(exported).timestamp
    body = get(client, keys["aud"], as_of=moment.isoformat()).json()
    assert [v["status"] for v in body["items"]] == ["staged"] and body["as_of_position"] == exported.id - 1
    assert get(client, keys["aud"], as_of="2000-01-01T00:00:00Z").json()["items"] == []


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"as_of": 10**6}, 400, "invalid_argument"), ({"as_of": "-1"}, 400, "invalid_argument"),
    ({"as_of": "yesterday"}, 400, "invalid_argument"),
    ({"limit": 0}, 422, "invalid_request"), ({"model_id": "nope"}, 422, "invalid_request"),
    ({"model_id": "00000000-0000-0000-0000-000000000000"}, 404, "not_found"),
])
def test_bad_registry_queries_get_clear_json_errors(api, params, status, code):
    client, keys, _ = api
    response = get(client, keys["aud"], **params)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_pagination_walks_every_item_once(api):
    client, keys, _ = api
    seen, offset = [], 0
    while offset is not None:
        body = get(client, keys["aud"], limit=2, offset=offset).json()
        seen += [v["version_id"] for v in body["items"]]
        offset = body["next_offset"]
    assert len(seen) == len(set(seen)) == 3


def test_the_openapi_document_describes_every_route_and_the_bearer_scheme(api):
    client, _, _ = api
    document = client.get("/openapi.json").json()
    assert {"/healthz", "/readyz", "/v1/exports", "/v1/registry/versions"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "VersionsPublic" in document["components"]["schemas"]
