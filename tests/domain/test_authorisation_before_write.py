"""Attacks on authorisation: who may act is decided before anything is saved, and a refusal records exactly one
AccessDenied and nothing else. Every guarded command of the application has a row here, so a new command cannot ship
without being tried by an intruder."""

from __future__ import annotations

import inspect

import pytest

from domain.access import Refusal
from domain.application import Governance
from domain.errors import Forbidden
from domain.predictions import Prediction

from .world import World, make_world


def _commands(w: World) -> dict[str, object]:
    """Every guarded method, called by `who` on the world's model (owned by w.ds), each ready to succeed for its owner."""
    staged = w.staged_version()
    validated = w.validated_version()
    approved = w.approved_version()
    trained = w.new_version(artifact=b"fresh")
    dataset = w.snapshot_dataset()
    job = w.training_job()
    run = w.app.request_batch_run(w.ds, staged, dataset_id=dataset, label_column="defaulted").id
    served = w.approved_version()
    deployment = w.deploy(served)
    spare = w.deploy(served)
    queued = w.app.request_deployment(w.manager, served).id
    rules = {"name": "loans", "rules": [], "default_version_id": str(served)}
    config = w.app.create_routing_config(w.manager, body=rules).id
    prediction = Prediction("req-1", config, 1, "k1", None, None, None, served, w.model_id, deployment, False, None,
                            {"age": 41, "income": 2.0}, None, True, 0.5, {"base_value": 0.1, "contributions": {}},
                            "ab" * 32, 1.0)
    w.app.save(prediction)
    releasing = w.deploy(served)
    termination = w.app.terminate_deployment(w.manager, releasing, reason="replaced").id
    return {
        "register_connection": lambda who: w.app.register_connection(who, name="bureau", url="postgresql://u:p@h/db"),
        "revoke_connection": lambda who: w.app.revoke_connection(who, name="bureau"),
        "request_training": lambda who: w.app.request_training(
            who, dataset_id=dataset, task="classification", target="defaulted", time_budget_seconds=5, model_id=w.model_id),
        "cancel_training": lambda who: w.app.cancel_training(who, job),
        "get_training_job": lambda who: w.app.get_training_job(who, job),
        "create_user": lambda who: w.app.create_user(who, "newcomer", "auditor"),
        "user_email": lambda who: w.app.user_email(who, "manager"),
        "erase_subject": lambda who: w.app.erase_subject(who, str(w.manager.user_id), reason="request 7"),
        "change_role": lambda who: w.app.change_role(who, "manager", "auditor"),
        "issue_api_key": lambda who: w.app.issue_api_key(who, "manager", "spare"),
        "revoke_api_key": lambda who: w.app.revoke_api_key(who, w.keys["manager"].split("_")[1]),
        "list_api_keys": lambda who: w.app.list_api_keys(who, "manager"),
        "import_version": lambda who: w.app.import_version(
            who, w.model_id, artifact=b"x", declared_hash="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
            estimator="e", metrics={"auc": 0.5}, input_schema={"a": "float"}, target="y", dataset_ids=[w.dataset_id]),
        "get_model": lambda who: w.app.get_model(who, w.model_id),
        "get_version": lambda who: w.app.get_version(who, staged),
        "compliance_score": lambda who: w.app.compliance_score(who, w.model_id),
        "export_to_staging": lambda who: w.app.export_to_staging(who, trained),
        "request_batch_run": lambda who: w.app.request_batch_run(who, staged, dataset_id=dataset, label_column="defaulted"),
        "cancel_batch_run": lambda who: w.app.cancel_batch_run(who, run),
        "get_batch_run": lambda who: w.app.get_batch_run(who, run),
        "approve": lambda who: w.app.approve(who, validated, findings="reviewed", batch_run_id=w.runs[validated]),
        "reject": lambda who: w.app.reject(who, validated, findings="reviewed"),
        "request_deployment": lambda who: w.app.request_deployment(who, approved),
        "cancel_deployment": lambda who: w.app.cancel_deployment(who, queued),
        "terminate_deployment": lambda who: w.app.terminate_deployment(who, spare, reason="stop"),
        "get_deployment": lambda who: w.app.get_deployment(who, deployment),
        "get_termination": lambda who: w.app.get_termination(who, termination),
        "create_routing_config": lambda who: w.app.create_routing_config(who, body=rules),
        "update_routing_config": lambda who: w.app.update_routing_config(who, config, body=rules),
        "roll_back_routing_config": lambda who: w.app.roll_back_routing_config(who, config, revision=1),
        "rotate_routing_key": lambda who: w.app.rotate_routing_key(who, config),
        "revoke_routing_key": lambda who: w.app.revoke_routing_key(who, config),
        "get_routing_config": lambda who: w.app.get_routing_config(who, config),
        "authorize_routing_reads": lambda who: w.app.authorize_routing_reads(who),
        "read_prediction": lambda who: w.app.read_prediction(who, prediction.id),
        "retire": lambda who: w.app.retire(who, approved, reason="old"),
        "configure_compliance": lambda who: w.app.configure_compliance(who, w.model_id, risk_tier="high"),
        "edit_section": lambda who: w.app.edit_section(who, w.model_id, "consent", "not mine to write"),
        "register_monitoring": lambda who: w.app.register_monitoring(who, w.model_id),
    }


#: Commands a data scientist may run on nothing of anyone else's: they create their own, or read what every data
#: scientist may (the names of data connections, never their credentials).
CREATES_ITS_OWN = {"register_dataset", "register_model", "list_connections"}
GUARDED = sorted(name for name, member in inspect.getmembers(Governance) if hasattr(member, "guarded_action"))


def test_every_guarded_command_is_attacked_here():
    assert set(GUARDED) == set(_commands(make_world())) | CREATES_ITS_OWN


@pytest.mark.parametrize("name", sorted(set(GUARDED) - CREATES_ITS_OWN))
def test_a_data_scientist_acting_on_another_data_scientists_model_records_only_the_refusal(name):
    w = make_world()
    attempt = _commands(w)[name]
    intruder = w.other_data_scientist
    before = w.events()
    with pytest.raises(Forbidden):
        attempt(intruder)
    assert w.events() == before + 1, "the refusal, and nothing of the command"
    refusal = w.app.repository.get(w.app.recorder.select_notifications(start=before + 1, limit=1)[0].originator_id)
    assert isinstance(refusal, Refusal) and refusal.username == intruder.username


@pytest.mark.parametrize(("name", "kind"), [("import_version", "model"), ("export_to_staging", "model_version"),
                                            ("request_batch_run", "model_version"), ("edit_section", "model")])
def test_a_refusal_names_what_was_refused_by_kind_and_id(name, kind):
    w = make_world()
    attempt = _commands(w)[name]
    before = w.events()
    with pytest.raises(Forbidden, match="only the models they own"):
        attempt(w.other_data_scientist)
    refusal = w.app.repository.get(w.app.recorder.select_notifications(start=w.events(), limit=1)[0].originator_id)
    assert w.events() == before + 1
    assert refusal.subject_kind == kind and refusal.subject_id and refusal.subject_id in refusal.subject


def test_the_owner_may_do_what_the_intruder_may_not():
    w = make_world()
    commands = _commands(w)
    for name in ("import_version", "export_to_staging", "request_batch_run", "edit_section", "get_model"):
        commands[name](w.ds)
