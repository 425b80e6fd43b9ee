"""Routing configs in the domain: checked against deployed versions before anything is recorded, every change the
whole rule set again, rollback as one more change, and keys shown once, stored hashed, rotated and revoked."""

from __future__ import annotations

import pytest

from domain.errors import Forbidden, PreconditionFailed, Unauthenticated
from domain.roles import Role
from domain.routing import RoutingKey, hash_routing_key, routing_key_id_for
from domain.routing_rules import RoutingInvalid

from .world import make_world


def rules(default, *, young=None, name="retail loans"):
    body = {"name": name, "rules": [], "default_version_id": str(default)}
    if young is not None:
        body["rules"] = [{"name": "young applicants", "when": {"all": [{"field": "age", "op": "lt", "value": 25}]},
                          "version_id": str(young)}]
    return body


@pytest.fixture
def served():
    """A world with two approved versions, each served by a local deployment."""
    w = make_world()
    champion, challenger = w.approved_version(), w.approved_version()
    w.deployments = {champion: w.deploy(champion), challenger: w.deploy(challenger)}
    return w, champion, challenger


def test_a_manager_creates_a_config_and_its_key_is_shown_once_and_stored_hashed(served):
    w, champion, challenger = served
    recorded = w.app.create_routing_config(w.manager, body=rules(champion, young=challenger))
    token = recorded.api_key
    assert token.startswith("grk_") and recorded.key_id in token
    key = w.app.repository.get(routing_key_id_for(recorded.key_id))
    assert isinstance(key, RoutingKey) and key.key_hash == hash_routing_key(token)
    stored = b"".join(n.state for n in w.app.recorder.select_notifications(start=1, limit=10_000))
    assert token.encode() not in stored, "the key itself is never in the ledger"
    config = w.app.authenticate_routing_key(token)
    assert config.id == recorded.id and config.revision == 1
    decision = config.rule_set
    assert decision.default_version_id == str(champion)
    assert config.deployments == {str(champion): str(w.deployments[champion]),
                                  str(challenger): str(w.deployments[challenger])}
    assert all(str(recorded.id) in w.app.deployment(d).routed_by for d in w.deployments.values())


def test_a_version_without_an_active_deployment_is_refused_naming_the_rule_and_field(served):
    w, champion, _ = served
    undeployed = w.approved_version()
    before = w.events()
    with pytest.raises(RoutingInvalid, match="not deployed") as refused:
        w.app.create_routing_config(w.manager, body=rules(champion, young=undeployed))
    assert (refused.value.rule, refused.value.field) == ("young applicants", "version_id")
    assert w.events() == before, "nothing recorded"


def test_every_change_records_the_whole_rule_set_and_a_rollback_is_one_more_change(served):
    w, champion, challenger = served
    config = w.app.create_routing_config(w.manager, body=rules(champion, young=challenger)).id
    w.app.update_routing_config(w.manager, config, body=rules(challenger))
    assert str(config) not in w.app.deployment(w.deployments[champion]).routed_by, "no longer routed there"
    w.app.roll_back_routing_config(w.manager, config, revision=1)
    found = w.app.routing_config(config)
    assert [r["revision"] for r in found.revisions] == [1, 2, 3]
    assert found.revisions[2]["rollback_of"] == 1
    assert found.revisions[2]["rules"] == found.revisions[0]["rules"]
    assert str(config) in w.app.deployment(w.deployments[champion]).routed_by


def test_an_unrouted_deployment_can_be_terminated_and_a_terminating_one_cannot_be_routed(served):
    w, champion, challenger = served
    config = w.app.create_routing_config(w.manager, body=rules(champion, young=challenger)).id
    with pytest.raises(PreconditionFailed, match="retail loans"):
        w.app.terminate_deployment(w.manager, w.deployments[challenger], reason="cost")
    w.app.update_routing_config(w.manager, config, body=rules(champion))
    w.app.terminate_deployment(w.manager, w.deployments[challenger], reason="cost")
    with pytest.raises(RoutingInvalid, match="not deployed"):
        w.app.update_routing_config(w.manager, config, body=rules(champion, young=challenger))
    with pytest.raises(RoutingInvalid, match="not deployed"):
        w.app.roll_back_routing_config(w.manager, config, revision=1)


def test_a_rotated_or_revoked_key_stops_working(served):
    w, champion, _ = served
    created = w.app.create_routing_config(w.manager, body=rules(champion))
    rotated = w.app.rotate_routing_key(w.manager, created.id).api_key
    with pytest.raises(Unauthenticated):
        w.app.authenticate_routing_key(created.api_key)
    assert w.app.authenticate_routing_key(rotated).id == created.id
    w.app.revoke_routing_key(w.manager, created.id)
    with pytest.raises(Unauthenticated):
        w.app.authenticate_routing_key(rotated)
    assert w.app.routing_config(created.id).key_id is None


@pytest.mark.parametrize("token", ["", "grk_nothex", "grk_0123456789abcdef_" + "A" * 43, "glk_0123456789abcdef_" + "A" * 43,
                                   "grk_0123456789abcdef_" + "A" * 42 + "\x00"])
def test_an_unknown_or_malformed_routing_key_is_refused_alike(served, token):
    w, _, _ = served
    with pytest.raises(Unauthenticated):
        w.app.authenticate_routing_key(token)


def test_a_forged_key_with_a_real_key_id_is_refused(served):
    w, champion, _ = served
    real = w.app.create_routing_config(w.manager, body=rules(champion)).api_key
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated):
        w.app.authenticate_routing_key(forged)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.MANAGER])
def test_only_managers_change_routing(served, role):
    w, champion, _ = served
    config = w.app.create_routing_config(w.manager, body=rules(champion)).id
    for attempt in (lambda: w.app.create_routing_config(w.actor(role), body=rules(champion)),
                    lambda: w.app.update_routing_config(w.actor(role), config, body=rules(champion)),
                    lambda: w.app.rotate_routing_key(w.actor(role), config),
                    lambda: w.app.revoke_routing_key(w.actor(role), config)):
        before = w.events()
        with pytest.raises(Forbidden):
            attempt()
        assert w.events() == before + 1


def test_data_scientists_do_not_read_routing_configs_which_span_every_model(served):
    w, champion, _ = served
    config = w.app.create_routing_config(w.manager, body=rules(champion)).id
    with pytest.raises(Forbidden, match="may not read routing configs"):
        w.app.get_routing_config(w.ds, config)
    assert w.app.get_routing_config(w.actor(Role.AUDITOR), config).id == config
