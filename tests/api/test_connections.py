"""/v1/connections over HTTP: superadmins register a connection and get where it points, never its URL; superadmins
and data scientists list them; everyone else is refused. The app is built here with the router added, as
api/app.py will once the router is registered there."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api import connections
from api.app import create_app
from api.deps import Services
from domain.application import Governance
from domain.roles import Role
from domain.services.sources import Sources
from ledger.connections import ConnectionCredentials
from ledger.database import Database
from tests.domain.world import MemoryArtifacts

PASSWORD = "Http-s3cret-51c7/x"
URL = f"postgresql://loader:{quote(PASSWORD, safe='')}@db.bank.internal:6432/warehouse"
FIELDS = {"connection_id", "name", "kind", "host", "port", "database", "active", "position"}


class _Gov(Governance, Sources):
    pass


@pytest.fixture
def api(db_url, signer):
    db = Database.from_url(db_url)
    gov = _Gov(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    gov.credentials = ConnectionCredentials(db, bytes(range(32)))
    root = gov.create_admin("root").api_key
    admin = gov.authenticate(root)
    keys = {Role.SUPERADMIN: root}
    for role in list(Role)[1:]:
        gov.create_user(admin, role.value, role.value)
        keys[role] = gov.issue_api_key(admin, role.value, "test").api_key
    app = create_app(Services(gov, db, signer.verifier))
    app.include_router(connections.router)
    client = TestClient(app)

    def call(method, role, **kwargs):
        return client.request(method, "/v1/connections", headers={"Authorization": f"Bearer {keys[role]}"}, **kwargs)

    call.gov = gov
    call.db = db
    return call


def test_a_superadmin_registers_a_connection_and_is_answered_where_it_points_never_its_url(api):
    created = api("POST", Role.SUPERADMIN, json={"name": "warehouse", "url": URL})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == FIELDS
    assert (body["name"], body["kind"], body["host"], body["port"], body["database"], body["active"]) == (
        "warehouse", "postgresql", "db.bank.internal", 6432, "warehouse", True)
    assert body["position"] >= 0
    assert PASSWORD not in created.text and "loader" not in created.text
    assert api.gov.connection_url("warehouse") == URL


def test_superadmins_and_data_scientists_list_connections(api):
    api("POST", Role.SUPERADMIN, json={"name": "warehouse", "url": URL})
    for role in (Role.SUPERADMIN, Role.DATA_SCIENTIST):
        listed = api("GET", role)
        assert listed.status_code == 200
        assert [c["name"] for c in listed.json()] == ["warehouse"]
        assert set(listed.json()[0]) == FIELDS and PASSWORD not in listed.text


@pytest.mark.parametrize("role", [Role.MANAGER, Role.COMPLIANCE_MANAGER, Role.AUDITOR])
def test_other_roles_may_not_list_connections(api, role):
    assert api("GET", role).status_code == 403


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SUPERADMIN])
def test_only_a_superadmin_registers_a_connection(api, role):
    refused = api("POST", role, json={"name": "warehouse", "url": URL})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    with api.db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM data_connections").fetchone()[0] == 0


def test_a_name_is_registered_once(api):
    assert api("POST", Role.SUPERADMIN, json={"name": "warehouse", "url": URL}).status_code == 201
    again = api("POST", Role.SUPERADMIN, json={"name": "warehouse", "url": URL})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body", [
    {"name": "warehouse", "url": f"sqlite:///{PASSWORD}"}, {"name": "warehouse", "url": f"postgresql://u:{PASSWORD}@h"},
    {"name": "has space", "url": URL}, {"name": "warehouse"}, {"name": "warehouse", "url": URL, "extra": 1},
])
def test_a_malformed_request_is_422_and_quotes_no_password(api, body):
    refused = api("POST", Role.SUPERADMIN, json=body)
    assert refused.status_code == 422
    assert PASSWORD not in refused.text


def test_a_source_error_is_answered_with_its_documented_status():
    from api.errors import STATUS
    from ledger import sources

    documented = {"source_unreachable": 502, "source_auth_failed": 502, "source_query_failed": 422, "source_timeout": 504,
                  "source_not_found": 404, "source_too_large": 413, "source_invalid": 422, "source_privileged": 422}
    codes = {cls.code for cls in vars(sources).values() if isinstance(cls, type) and issubclass(cls, sources.SourceError)}
    assert codes - {"source_error"} == set(documented)
    assert {code: STATUS[code] for code in documented} == documented
