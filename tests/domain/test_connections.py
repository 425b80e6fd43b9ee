"""Named data connections in the domain: superadmins register them once by name, their credentials go to the
credential store before anything is recorded, and never into the ledger."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.access import Refusal
from domain.application import Governance
from domain.connections import DataConnection, connection_id_for
from domain.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from domain.roles import Role
from domain.services.idempotency import request_hash
from domain.services.sources import Sources

from .world import MemoryArtifacts

PASSWORD = "Tr0ub4dor-7f3a9c"  # distinctive, so that finding it anywhere is a leak
URL = f"postgresql://loader:{PASSWORD}@db.bank.internal:6432/warehouse"


class MemoryCredentials:
    def __init__(self) -> None:
        self.urls: dict[UUID, str] = {}

    def put(self, connection_id: UUID, url: str) -> None:
        self.urls[connection_id] = url

    def get(self, connection_id: UUID) -> str:
        return self.urls[connection_id]

    def delete(self, connection_id: UUID) -> bool:
        return self.urls.pop(connection_id, None) is not None


class _Gov(Governance, Sources):
    """Governance with Sources after it, as the lead will compose it: People's idempotency hash must defer to it."""


@pytest.fixture
def gov():
    app = _Gov(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, artifacts=MemoryArtifacts())
    app.credentials = MemoryCredentials()
    admin = app.authenticate(app.create_admin("root").api_key)
    actors = {Role.SUPERADMIN: admin}
    for role in list(Role)[1:]:
        name = role.value.replace("_", "-")
        app.create_user(admin, name, role.value)
        actors[role] = app.authenticate(app.issue_api_key(admin, name, "test").api_key)
    app.actors = actors
    return app


def _events(app) -> list[bytes]:
    return [n.state for n in app.recorder.select_notifications(start=1, limit=10_000)]


def test_a_superadmin_registers_a_connection_whose_event_holds_no_credentials(gov):
    recorded = gov.register_connection(gov.actors[Role.SUPERADMIN], name="warehouse", url=URL)
    assert recorded.id == connection_id_for("warehouse")
    connection = gov.get_connection("warehouse")
    assert (connection.kind, connection.host, connection.port, connection.database) == (
        "postgresql", "db.bank.internal", 6432, "warehouse")
    assert gov.credentials.get(connection.id) == URL
    registered = [e for e in _events(gov) if b"DataConnection" in e or b"warehouse" in e]
    assert registered, "the registration is recorded"
    assert not any(PASSWORD.encode() in e or b"loader" in e for e in _events(gov))


def test_the_ledger_holds_no_hash_of_the_url_even_for_an_idempotent_request(gov):
    admin = gov.actors[Role.SUPERADMIN]
    gov.register_connection(admin, name="warehouse", url=URL, idempotency_key="k-1")
    plain = request_hash("register_connection", {"name": "warehouse", "url": URL}).encode()
    assert not any(plain in e or PASSWORD.encode() in e for e in _events(gov))
    again = gov.register_connection(admin, name="warehouse", url=URL, idempotency_key="k-1")
    assert again.replayed and again.id == connection_id_for("warehouse")


def test_a_name_is_registered_once(gov):
    admin = gov.actors[Role.SUPERADMIN]
    gov.register_connection(admin, name="warehouse", url=URL)
    before = gov.recorder.max_notification_id()
    with pytest.raises(Conflict, match="already exists"):
        gov.register_connection(admin, name="warehouse", url="mysql://other:pw@elsewhere/db")
    assert gov.recorder.max_notification_id() == before
    assert gov.credentials.get(connection_id_for("warehouse")) == URL


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SUPERADMIN])
def test_only_a_superadmin_registers_a_connection_and_a_refusal_stores_no_credential(gov, role):
    before = gov.recorder.max_notification_id()
    with pytest.raises(Forbidden):
        gov.register_connection(gov.actors[role], name="warehouse", url=URL, idempotency_key="try")
    recorded = [gov.repository.get(n.originator_id) for n in gov.recorder.select_notifications(start=before + 1, limit=10)]
    refusals = [r for r in recorded if isinstance(r, Refusal)]
    assert len(refusals) == 1 and len(recorded) == 2  # the refusal, and the idempotency record of its answer
    refusal = refusals[0]
    assert (refusal.action, refusal.subject_kind, refusal.subject_id) == ("register data connections", "data_connection", "warehouse")
    assert gov.credentials.urls == {}
    assert not any(PASSWORD.encode() in e for e in _events(gov))


@pytest.mark.parametrize("url", [
    "sqlite:///tmp/x.db", f"postgresql://u:{PASSWORD}@/db", f"postgresql://u:{PASSWORD}@host", f"mysql://u:{PASSWORD}@host/a/b",
    f"postgresql://u:{PASSWORD}@host:99999/db", f"postgresql://u:{PASSWORD}@host/db?options=-c%20x", f"mysql://u:{PASSWORD}@h/db?ssl=1",
    "", 42,
])
def test_a_malformed_url_is_refused_without_quoting_it_and_nothing_is_kept(gov, url):
    before = gov.recorder.max_notification_id()
    with pytest.raises(InvalidInput) as refused:
        gov.register_connection(gov.actors[Role.SUPERADMIN], name="warehouse", url=url)
    assert PASSWORD not in refused.value.message
    assert gov.recorder.max_notification_id() == before and gov.credentials.urls == {}


@pytest.mark.parametrize("name", ["", "1st", "has space", "a" * 65, "dash-ed"])
def test_a_connection_name_is_an_identifier_of_at_most_64_characters(gov, name):
    with pytest.raises(InvalidInput, match="identifier"):
        gov.register_connection(gov.actors[Role.SUPERADMIN], name=name, url=URL)


def test_a_postgresql_url_may_ask_for_tls(gov):
    gov.register_connection(gov.actors[Role.SUPERADMIN], name="tls", url=f"postgresql://u:{PASSWORD}@h/db?sslmode=verify-full")
    assert gov.get_connection("tls").port == 5432


def test_a_mysql_connection_defaults_to_port_3306(gov):
    gov.register_connection(gov.actors[Role.SUPERADMIN], name="shop", url="mysql://reader:pw@maria.internal/shop")
    assert (gov.get_connection("shop").kind, gov.get_connection("shop").port) == ("mysql", 3306)


def test_revoking_a_connection_records_it_and_destroys_its_credentials(gov):
    admin = gov.actors[Role.SUPERADMIN]
    gov.register_connection(admin, name="warehouse", url=URL)
    assert gov.connection_url("warehouse") == URL
    gov.revoke_connection(admin, name="warehouse")
    assert gov.get_connection("warehouse").revoked_by == "root"
    assert gov.credentials.urls == {}
    with pytest.raises(IllegalTransition):
        gov.connection_url("warehouse")
    with pytest.raises(Conflict):  # the name stays taken: the ledger names it in its history
        gov.register_connection(admin, name="warehouse", url=URL)


def test_superadmins_and_data_scientists_list_connections_and_others_are_refused(gov):
    gov.register_connection(gov.actors[Role.SUPERADMIN], name="warehouse", url=URL)
    gov.register_connection(gov.actors[Role.SUPERADMIN], name="shop", url="mysql://reader:pw@maria.internal/shop")
    for role in (Role.SUPERADMIN, Role.DATA_SCIENTIST):
        listed = gov.list_connections(gov.actors[role])
        assert [c.name for c, _ in listed] == ["warehouse", "shop"]
        assert all(isinstance(c, DataConnection) and position >= 0 for c, position in listed)
    for role in (Role.MANAGER, Role.COMPLIANCE_MANAGER, Role.AUDITOR):
        with pytest.raises(Forbidden):
            gov.list_connections(gov.actors[role])


def test_without_a_credential_store_nothing_is_registered(gov):
    gov.credentials = None
    before = gov.recorder.max_notification_id()
    with pytest.raises(InvalidInput, match="credential store"):
        gov.register_connection(gov.actors[Role.SUPERADMIN], name="warehouse", url=URL)
    assert gov.recorder.max_notification_id() == before

