"""Users, roles and API keys: keys are shown once, stored hashed, attributable, and revocable."""

from __future__ import annotations

import logging

import pytest

from domain.application import Governance
from domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated

from .world import MemoryArtifacts, make_world


def test_the_first_superadmin_is_created_once():
    app = Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, artifacts=MemoryArtifacts())
    key = app.create_admin("root").api_key
    assert app.authenticate(key).role == "superadmin"
    with pytest.raises(Conflict, match="already exists"):
        app.create_admin("another")


def test_a_superadmin_creates_users_of_every_role_and_their_keys_authenticate_as_them():
    w = make_world()
    for role, actor in w.actors.items():
        assert actor.role is role
    issued = w.app.issue_api_key(w.admin, "auditor", "ci")
    key_id, key = issued.key_id, issued.api_key
    assert w.app.authenticate(key).username == "auditor"
    assert key_id in key and key.startswith("glk_")
    listed = {k["key_id"]: k for k in w.app.list_api_keys(w.admin, "auditor")}
    assert listed[key_id]["label"] == "ci" and listed[key_id]["revoked"] is False
    assert all("hash" not in str(k) and key not in str(k) for k in listed.values())


def test_a_revoked_key_no_longer_authenticates():
    w = make_world()
    issued = w.app.issue_api_key(w.admin, "manager", "laptop")
    key_id, key = issued.key_id, issued.api_key
    w.app.revoke_api_key(w.admin, key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        w.app.authenticate(key)
    with pytest.raises(Conflict, match="already revoked"):
        w.app.revoke_api_key(w.admin, key_id)
    assert {k["key_id"]: k["revoked"] for k in w.app.list_api_keys(w.admin, "manager")}[key_id] is True


@pytest.mark.parametrize("bad", ["", "glk_nothex_x", "Bearer glk_0123456789abcdef_" + "A" * 43,
                                 "glk_0123456789abcdef_" + "A" * 43])
def test_malformed_and_unknown_keys_are_refused(bad):
    w = make_world()
    with pytest.raises(Unauthenticated):
        w.app.authenticate(bad)


def test_a_key_with_the_right_id_but_wrong_secret_is_refused():
    w = make_world()
    key = w.keys["manager"]
    with pytest.raises(Unauthenticated, match="not valid"):
        w.app.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"))


@pytest.mark.parametrize(("username", "role", "error"), [
    ("ok-name", "wizard", InvalidInput), ("Bad Name", "auditor", InvalidInput), ("ab", "auditor", InvalidInput),
    ("manager", "auditor", Conflict)])
def test_bad_users_are_refused_and_nothing_is_appended(username, role, error):
    w = make_world()
    before = w.events()
    with pytest.raises(error):
        w.app.create_user(w.admin, username, role)
    assert w.events() == before


def test_issuing_a_key_for_an_unknown_user_is_not_found():
    w = make_world()
    with pytest.raises(NotFound):
        w.app.issue_api_key(w.admin, "nobody", "x")


def test_no_api_key_appears_in_any_stored_event_or_log_line(sqlite_url, caplog):
    from ledger.database import Database

    db = Database.from_url(sqlite_url)
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    caplog.set_level(logging.DEBUG)
    admin_key = app.create_admin("root").api_key
    admin = app.authenticate(admin_key)
    app.create_user(admin, "mia", "manager")
    issued = app.issue_api_key(admin, "mia", "laptop")
    key_id, key = issued.key_id, issued.api_key
    app.revoke_api_key(admin, key_id)
    with pytest.raises(Unauthenticated) as revoked:
        app.authenticate(key)
    with pytest.raises(Unauthenticated) as wrong:
        app.authenticate(key[:-2] + "zz")
    with db.connect() as conn:
        stored = b"".join(bytes(s) + t.encode() for s, t in conn.execute("SELECT state, topic FROM ledger_events"))
    secrets = [admin_key, key, admin_key.rsplit("_", 1)[1], key.rsplit("_", 1)[1]]
    assert key_id.encode() in stored  # the public id is recorded, so every use is attributable
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret not in caplog.text
        assert secret not in str(revoked.value) + str(wrong.value)


def test_erasing_a_subject_nobody_knows_is_not_found_and_records_nothing():
    w = make_world()
    w.app.vault = _NoKeys()
    before = w.events()
    for subject in ("made-up", "00000000-0000-4000-8000-000000000000", str(w.model_id), w.manager.user_id.hex):
        with pytest.raises(NotFound, match="no data subject"):
            w.app.erase_subject(w.admin, subject, reason="a request about nobody")
    assert w.events() == before
    assert w.app.erase_subject(w.admin, str(w.manager.user_id), reason="a user is a subject").position == before


class _NoKeys:
    def erase(self, subject: str) -> bool:
        return False

    def knows(self, subject: str) -> bool:
        return False
