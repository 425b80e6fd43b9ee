"""Every segregation-of-duties rule of DESIGN.md §2, enforced in the domain, each refusal recorded."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.access import Refusal
from domain.errors import IllegalTransition, PreconditionFailed, SegregationOfDuties
from domain.models import ModelVersion, Status

from .world import make_world


def promoted(w, actor):
    """The same person, later made a manager: one role at a time, but the history stays theirs."""
    w.app.change_role(w.admin, actor.username, "manager")
    return w.app.authenticate(w.keys[actor.username])


def last_refusal(w) -> Refusal:
    notification = w.app.recorder.select_notifications(start=w.events(), limit=1)[0]
    return w.app.repository.get(notification.originator_id)


def test_nobody_approves_a_version_they_trained():
    w = make_world()
    version = w.validated_version()
    w.document()
    trainer_as_manager = promoted(w, w.ds)
    with pytest.raises(SegregationOfDuties, match="trained version 1"):
        w.app.approve(trainer_as_manager, version, findings="my own work looks fine", batch_run_id=w.runs.get(version))
    refusal = last_refusal(w)
    assert (refusal.username, refusal.code) == ("data-scientist", "segregation_of_duties")


def test_nobody_approves_a_version_they_exported():
    """Through commands only a model's owner, who trained it, exports; the version's own rule holds for anyone."""
    trainer, exporter = uuid4(), uuid4()
    version = ModelVersion.import_trained(model_id=uuid4(), number=1, artifact_hash="ab" * 32, estimator="x",
                                          metrics={"auc": 0.8}, input_schema={"a": "float"}, target="y",
                                          dataset_ids=[uuid4()], trained_by=trainer, trained_by_name="dana")
    version.export_to_staging(exporter)
    version.record_batch_run(run_id="r", rows=10, metrics={"auc": 0.8}, report_hashes={}, drift_share=0.0,
                             drift_detected=False, fairness_breach=False, by=uuid4())
    with pytest.raises(SegregationOfDuties, match="exported version 1"):
        version.approve(by=exporter, by_name="eve", findings="I staged it myself", justification=None, batch_run_id="r",
                        missing_mandatory=[])


def test_nobody_rejects_a_version_they_trained_either():
    w = make_world()
    version = w.validated_version()
    with pytest.raises(SegregationOfDuties):
        w.app.reject(promoted(w, w.ds), version, findings="second thoughts")


def test_a_version_is_approved_only_after_a_completed_batch_run():
    w = make_world()
    version = w.staged_version()
    w.document()
    with pytest.raises(PreconditionFailed, match="no completed batch inference run"):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="looks fine")
    assert w.app.get_version(w.manager, version).status is Status.STAGED
    assert last_refusal(w).code == "precondition_failed"


def test_a_version_is_approved_only_when_every_mandatory_section_is_complete():
    w = make_world()
    w.app.configure_compliance(w.compliance, w.model_id, risk_tier="high")
    version = w.validated_version()
    w.app.edit_section(w.compliance, w.model_id, "model_info", "a credit model")
    with pytest.raises(PreconditionFailed, match="domain_context, fairness_bias, provenance, consent, risk_classification"):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="looks fine")
    w.document()
    w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="looks fine")
    assert w.app.get_version(w.manager, version).status is Status.APPROVED


def test_a_section_written_before_the_latest_retraining_is_stale_and_blocks_approval():
    w = make_world()
    w.document()
    version = w.validated_version()  # retrained after the documentation was written
    with pytest.raises(PreconditionFailed, match="incomplete: model_info"):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="looks fine")


@pytest.mark.parametrize("breach", [{"drift": True}, {"fairness_breach": True}])
def test_drift_or_a_fairness_breach_is_approved_only_with_a_written_justification(breach):
    w = make_world()
    version = w.validated_version(**breach)
    w.document()
    with pytest.raises(PreconditionFailed, match="justification"):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="metrics acceptable")
    with pytest.raises(PreconditionFailed, match="justification"):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="metrics acceptable", justification="fine")
    reason = "Accepted: the shift mirrors the seasonal pattern seen every December."
    w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="metrics acceptable", justification=reason)
    approved = [e for e in w.app.repository.event_store.get(version) if type(e).__name__ == "Approved"]
    assert approved[0].justification == reason


def test_only_approved_versions_are_deployed():
    w = make_world()
    version = w.validated_version()
    with pytest.raises(IllegalTransition, match="is validated; it cannot deploy"):
        w.app.request_deployment(w.manager, version)
    assert last_refusal(w).code == "illegal_transition"


def test_a_terminated_deployment_stays_terminated():
    w = make_world()
    version = w.approved_version()
    deployment = w.deploy(version)
    w.terminate(deployment)
    for attempt in (lambda: w.app.request_deployment(w.manager, version),
                    lambda: w.app.terminate_deployment(w.manager, deployment, reason="again")):
        with pytest.raises(IllegalTransition):
            attempt()
    assert w.app.get_version(w.manager, version).status is Status.TERMINATED
    assert w.app.deployment(deployment).status.value == "terminated"


def test_every_refusal_is_recorded_with_who_tried_what_and_why():
    w = make_world()
    version = w.staged_version()
    with pytest.raises(PreconditionFailed):
        w.app.approve(w.manager, version, batch_run_id=w.runs.get(version), findings="early")
    refusal = last_refusal(w)
    assert refusal.username == "manager" and refusal.action == "approve or reject a model version"
    assert (refusal.subject_kind, refusal.subject_id) == ("model_version", str(version))
    assert "batch inference" in refusal.reason
