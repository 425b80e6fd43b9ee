"""GET /v1/exports over HTTP: only superadmins, compliance managers and auditors export, every refusal is recorded, and the bundle verifies offline."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from domain.application import Governance
from domain.roles import Role
from ledger.database import Database
from ledger.subjects import SubjectVault
from ledger_tools.bundle import verify_bundle
from tests.domain.world import MemoryArtifacts
from tests.ledger.helpers import fill, seal_all

ALLOWED = {Role.SUPERADMIN, Role.COMPLIANCE_MANAGER, Role.AUDITOR}


@pytest.fixture
def api(db_url, signer):
    db = Database.from_url(db_url)
    gov = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts(), vault=SubjectVault(db))
    admin_key = gov.create_admin("root").api_key
    admin = gov.authenticate(admin_key)
    keys = {Role.SUPERADMIN: admin_key}
    for role in list(Role)[1:]:
        name = role.value.replace("_", "-")
        gov.create_user(admin, name, role.value)
        keys[role] = gov.issue_api_key(admin, name, "api").api_key
    fill(db, 12)
    seal_all(db, signer)
    return TestClient(create_app(Services(gov, db, signer.verifier))), keys, gov


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("role", list(Role))
def test_only_superadmins_compliance_managers_and_auditors_export(api, role, tmp_path, signer):
    client, keys, gov = api
    before = gov.recorder.max_notification_id()
    response = client.get("/v1/exports", params={"from_position": 0, "to_position": 5}, headers=bearer(keys[role]))
    if role in ALLOWED:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/gzip"
        (tmp_path / "b.tar.gz").write_bytes(response.content)
        assert verify_bundle(tmp_path / "b.tar.gz", str(signer.verifier)).events == 6
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert gov.recorder.max_notification_id() == before + 1  # the refusal is recorded


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer glk_0123456789abcdef_" + "A" * 43}])
def test_requests_without_a_valid_key_are_401_with_a_json_error(api, headers):
    client, _, _ = api
    response = client.get("/v1/exports", params={"from_position": 0}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("params", "status", "code"), [
    ({}, 400, "invalid_argument"),
    ({"from_position": 0, "since": "2026-01-01T00:00:00"}, 400, "invalid_argument"),
    ({"from_position": -1}, 422, "invalid_request"),
    ({"from_position": "x"}, 422, "invalid_request"),
    ({"from_position": 10_000}, 400, "invalid_argument"),
    ({"model": "not-a-uuid"}, 422, "invalid_request"),
    ({"model": "00000000-0000-0000-0000-000000000000"}, 404, "not_found"),
    ({"since": "2100-01-01T00:00:00"}, 400, "invalid_argument"),
])
def test_bad_export_requests_get_a_clear_json_error(api, params, status, code):
    client, keys, _ = api
    response = client.get("/v1/exports", params=params, headers=bearer(keys[Role.AUDITOR]))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_health_and_readiness(api):
    client, _, _ = api
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/nowhere").json()["error"]["code"] == "not_found"
