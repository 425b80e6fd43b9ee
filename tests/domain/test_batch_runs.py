"""Batch runs in the domain: what a request is checked against, and an approval gate that trusts only runs govledger
computed, named by the reviewer."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.batch import REPORTS
from domain.compliance import TIER_THRESHOLDS, RiskTier
from domain.errors import Forbidden, IllegalTransition, InvalidInput, PreconditionFailed
from domain.jobs import JobState
from domain.models import ModelVersion, Status

from .world import make_world


def _dataset(w, schema):
    profile = {c: {"type": t, "missing_share": 0.0, "distinct": 5} for c, t in schema.items()}
    return w.app.register_dataset(w.ds, name="scoring set", source="upload:s.csv", schema=schema, row_count=100,
                                  content_hash="cd" * 32, source_kind="upload", profile=profile, snapshot=True).id


def test_a_dataset_that_does_not_fit_the_versions_schema_is_refused_naming_every_column():
    w = make_world()
    version = w.staged_version()  # input schema: age integer, income float
    dataset = _dataset(w, {"income": "string", "other": "float"})
    before = w.events()
    with pytest.raises(InvalidInput, match="age is missing; income is string, the version expects float"):
        w.app.request_batch_run(w.manager, version, dataset_id=dataset)
    assert w.events() == before


@pytest.mark.parametrize(("change", "message"), [
    ({"label_column": "nope"}, "label column 'nope' is not a column"),
    ({"label_column": "age"}, "one of the version's input features"),
    ({"protected_attributes": ["religion"]}, "protected attribute 'religion' is not a column"),
    ({"protected_attributes": ["gender", "gender"]}, "twice"),
])
def test_a_label_or_protected_attribute_that_is_not_a_column_is_refused(change, message):
    w = make_world()
    version, dataset = w.staged_version(), w.snapshot_dataset()
    with pytest.raises(InvalidInput, match=message):
        w.app.request_batch_run(w.manager, version, dataset_id=dataset, **change)


def test_a_run_is_requested_only_of_a_staged_or_validated_version_and_only_on_a_kept_snapshot():
    w = make_world()
    with pytest.raises(IllegalTransition, match="trained"):
        w.app.request_batch_run(w.manager, w.new_version(artifact=b"new"), dataset_id=w.snapshot_dataset())
    with pytest.raises(InvalidInput, match="hash alone"):
        w.app.request_batch_run(w.manager, w.staged_version(), dataset_id=w.dataset_id)


def test_a_data_scientist_runs_only_their_own_models_versions():
    w = make_world()
    version, dataset = w.staged_version(), w.snapshot_dataset()
    with pytest.raises(Forbidden):
        w.app.request_batch_run(w.other_data_scientist, version, dataset_id=dataset)
    assert w.app.request_batch_run(w.ds, version, dataset_id=dataset).id


def test_a_run_is_judged_by_the_thresholds_of_the_models_risk_tier_when_requested():
    w = make_world()
    w.app.configure_compliance(w.compliance, w.model_id, risk_tier="high", thresholds={"four_fifths": 0.9})
    run = w.app.batch_run(w.app.request_batch_run(w.manager, w.staged_version(), dataset_id=w.snapshot_dataset()).id)
    assert run.thresholds == {**TIER_THRESHOLDS[RiskTier.HIGH], "four_fifths": 0.9}


def test_a_completed_run_validates_the_version_and_ends_once():
    w = make_world()
    version = w.staged_version()
    run_id = w.batch_run(version)
    assert w.app.get_version(w.manager, version).status is Status.VALIDATED
    assert w.app.batch_run(run_id).state is JobState.SUCCEEDED
    with pytest.raises(IllegalTransition):
        w.app.fail_batch_run(run_id, worker="w1", attempt=1, code="x", reason="late")


def test_an_approval_must_name_a_batch_run_govledger_computed_on_the_version():
    w = make_world()
    version = w.validated_version()
    w.document()
    with pytest.raises(PreconditionFailed, match="names the batch run"):
        w.app.approve(w.manager, version, findings="ok")
    with pytest.raises(PreconditionFailed, match="not a run govledger computed"):
        w.app.approve(w.manager, version, findings="ok", batch_run_id=uuid4())
    w.app.approve(w.manager, version, findings="ok", batch_run_id=w.runs[version])


def test_evidence_posted_by_people_loads_but_never_satisfies_the_gate():
    """A run recorded by the old posting endpoint (no `computed` flag) is kept and shown, and counts for nothing."""
    version = ModelVersion.import_trained(model_id=uuid4(), number=1, artifact_hash="ab" * 32, estimator="x",
                                          metrics={"auc": 0.8}, input_schema={"a": "float"}, target="y",
                                          dataset_ids=[uuid4()], trained_by=uuid4(), trained_by_name="dana")
    version.export_to_staging(uuid4())
    version._batch_run("posted-1", 10, {"auc": 0.99}, {}, 0.0, False, False, uuid4())  # as the old event was recorded
    assert version.batch_runs[0]["computed"] is False and version.last_batch_run is None
    with pytest.raises(PreconditionFailed, match="posted by people"):
        version.approve(by=uuid4(), by_name="mia", findings="ok", justification=None, batch_run_id="posted-1",
                        missing_mandatory=[])


def test_a_later_run_cannot_stand_in_for_the_one_the_reviewer_named():
    w = make_world()
    version = w.validated_version(drift=True)
    drifted = w.runs[version]
    w.batch_run(version)  # a clean run afterwards
    w.document()
    with pytest.raises(PreconditionFailed, match="justification"):
        w.app.approve(w.manager, version, findings="looked at the first run", batch_run_id=drifted)
    approved = w.app.approve(w.manager, version, findings="the clean run", batch_run_id=w.runs[version])
    assert approved.position is not None


def test_report_hashes_must_name_every_report():
    w = make_world()
    run_id = w.app.request_batch_run(w.manager, w.staged_version(), dataset_id=w.snapshot_dataset()).id
    w.app.start_batch_run(run_id, worker="w1", attempt=1, lease_seconds=30)
    with pytest.raises(InvalidInput, match="each of"):
        w.app.complete_batch_run(run_id, worker="w1", attempt=1, report_hashes={"drift": "ab" * 32}, rows=5, summary={},
                                 metrics={}, drift_share=0.0, drift_detected=False, fairness_breach=False)
    assert set(REPORTS) == {"predictions", "drift", "explanations", "fairness", "performance"}


def test_a_run_judged_under_thresholds_the_config_has_changed_since_cannot_carry_an_approval():
    w = make_world()
    version = w.validated_version()
    w.document()
    w.app.configure_compliance(w.compliance, w.model_id, risk_tier="high")  # stricter thresholds after the run
    w.document()
    with pytest.raises(PreconditionFailed, match="changed since"):
        w.app.approve(w.manager, version, findings="ok", batch_run_id=w.runs[version])
    w.batch_run(version)  # a new run, judged under today's thresholds
    w.app.approve(w.manager, version, findings="ok", batch_run_id=w.runs[version])


def test_the_favourable_outcome_must_be_one_of_the_versions_classes():
    w = make_world()
    version_id = w.staged_version()
    dataset = w.snapshot_dataset()
    with pytest.raises(InvalidInput, match="a classification version"):  # an imported version names no classes
        w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, favourable_outcome=False)
