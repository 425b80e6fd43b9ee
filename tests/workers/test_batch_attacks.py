"""Attacks on batch runs and the approval gate, from the documentation: each test is named after the attack; the
ones that held stay as cheap regression tests."""

from __future__ import annotations

import json
from uuid import UUID

import numpy as np
import pytest

from domain.batch import REPORTS
from domain.errors import Forbidden, IllegalTransition, InvalidInput, PreconditionFailed
from domain.jobs import JobState
from domain.models import Status
from ml.fairness import group_fairness, group_labels

from ..domain.world import make_world
from .test_batch_worker import _runner, _scoring_set, _trained_and_staged
from .training_world import training_world


def _complete(w, run_id, *, drift=False):
    w.app.start_batch_run(run_id, worker="w1", attempt=1, lease_seconds=30)
    w.app.complete_batch_run(run_id, worker="w1", attempt=1, report_hashes={n: "ab" * 32 for n in REPORTS}, rows=500,
                             summary={}, metrics={"roc_auc": 0.8}, drift_share=0.6 if drift else 0.0,
                             drift_detected=drift, fairness_breach=False)


# -- the approval gate ------------------------------------------------------------------------------------------------

def test_approving_with_a_run_of_another_version_is_refused():
    w = make_world()
    first, second = w.validated_version(), w.staged_version()
    w.batch_run(second)
    w.document()
    with pytest.raises(PreconditionFailed, match="not a run govledger computed"):
        w.app.approve(w.manager, first, findings="ok", batch_run_id=w.runs[second])


@pytest.mark.parametrize("state", ["queued", "running", "failed", "cancelled"])
def test_approving_with_a_run_that_did_not_complete_is_refused(state):
    w = make_world()
    version = w.validated_version()
    w.document()
    run_id = w.app.request_batch_run(w.manager, version, dataset_id=w.snapshot_dataset()).id
    if state != "queued":
        w.app.start_batch_run(run_id, worker="w1", attempt=1, lease_seconds=30)
    if state == "failed":
        w.app.fail_batch_run(run_id, worker="w1", attempt=1, code="x", reason="broke")
    if state == "cancelled":
        w.app.cancel_batch_run(w.manager, run_id)
    with pytest.raises(PreconditionFailed, match="not a run govledger computed"):
        w.app.approve(w.manager, version, findings="ok", batch_run_id=run_id)


def test_approving_on_an_older_clean_run_while_a_later_run_shows_drift_needs_a_justification():
    """Cherry-picking: the reviewer names the clean run and ignores the drift a run computed after it found."""
    w = make_world()
    version = w.validated_version()
    clean = w.runs[version]
    w.batch_run(version, drift=True)
    w.document()
    before = w.events()
    with pytest.raises(PreconditionFailed, match="justification"):
        w.app.approve(w.manager, version, findings="the first run was clean", batch_run_id=clean)
    assert w.events() == before + 1, "only the refusal is recorded"
    w.app.approve(w.manager, version, findings="the first run was clean", batch_run_id=clean,
                  justification="The later sample is a stress scenario; the drift is expected there.")


def test_a_manager_cannot_cancel_a_run_a_data_scientist_requested():
    w = make_world()
    run_id = w.app.request_batch_run(w.ds, w.staged_version(), dataset_id=w.snapshot_dataset()).id
    before = w.events()
    with pytest.raises(Forbidden):
        w.app.cancel_batch_run(w.manager, run_id)
    assert w.events() == before + 1 and w.app.batch_run(run_id).state is JobState.QUEUED


def test_a_data_scientist_cannot_read_another_data_scientists_run():
    w = make_world()
    run_id = w.batch_run(w.staged_version())
    with pytest.raises(Forbidden):
        w.app.get_batch_run(w.other_data_scientist, run_id)


@pytest.mark.parametrize("step", ["approved", "rejected"])
def test_a_run_on_a_reviewed_version_is_refused(step):
    w = make_world()
    version = w.validated_version()
    w.document()
    if step == "approved":
        w.app.approve(w.manager, version, findings="ok", batch_run_id=w.runs[version])
    else:
        w.app.reject(w.manager, version, findings="no")
    with pytest.raises(IllegalTransition, match=step):
        w.app.request_batch_run(w.manager, version, dataset_id=w.snapshot_dataset())


@pytest.mark.parametrize("thresholds", [{"four_fifths": 0}, {"p_value": -0.1}, {"distance": 1.5},
                                        {"p_value": float("nan")}, {"psi_drift": "0.2"}, {"psi_drift": True},
                                        {"alpha": 0.05}])
def test_thresholds_out_of_range_are_refused_and_record_nothing(thresholds):
    w = make_world()
    before = w.events()
    with pytest.raises(InvalidInput):
        w.app.configure_compliance(w.compliance, w.model_id, risk_tier="high", thresholds=thresholds)
    assert w.events() == before


# -- what a request may name -------------------------------------------------------------------------------------------

def _dataset_with(w, column: dict) -> UUID:
    profile = {"age": {"type": "integer", "missing_share": 0.0, "distinct": 60},
               "income": {"type": "float", "missing_share": 0.0, "distinct": 990},
               "defaulted": {"type": "boolean", "missing_share": 0.0, "distinct": 2}, **column}
    return w.app.register_dataset(w.ds, name="scoring", source="upload:s.csv", row_count=50_000,
                                  schema={c: p["type"] for c, p in profile.items()}, content_hash="12" * 32,
                                  source_kind="upload", profile=profile, snapshot=True).id


@pytest.mark.parametrize("column", [
    {"surname": {"type": "string", "missing_share": 0.0, "distinct": 4_000}},  # free text: values would be quoted
    {"postcode": {"type": "integer", "missing_share": 0.0, "distinct": 10_000}},  # 10,000 groups
])
def test_a_protected_attribute_of_free_text_or_thousands_of_groups_is_refused_before_anything_is_recorded(column):
    w = make_world()
    version, dataset = w.staged_version(), _dataset_with(w, column)
    before = w.events()
    with pytest.raises(InvalidInput, match="protected attribute"):
        w.app.request_batch_run(w.manager, version, dataset_id=dataset, protected_attributes=list(column))
    assert w.events() == before


# -- fairness figures must not describe a person -----------------------------------------------------------------------

def test_a_lone_rare_group_merged_into_small_groups_does_not_describe_that_one_person():
    """A group of 1 row becomes __small_groups__ of 1 row: its selection rate and TPR would be that person's
    prediction and true outcome (here: a default), in the ledger for ever."""
    groups = group_labels(__import__("pandas").Series(["a"] * 50 + ["b"] * 50 + ["rare"]))
    selected = np.array([True, False] * 50 + [False])
    positive = np.array([True] * 100 + [True])
    table = group_fairness(selected, groups, positive, 0.8)
    small = table["groups"].get("__small_groups__")
    assert small is not None and small["count"] == 1
    assert small["selection_rate"] is None and small["tpr"] is None and small["fpr"] is None
    assert "positives" not in small and "negatives" not in small
    assert table["disparate_impact_ratio"] == 1.0, "a bucket too small to publish does not move the figures"


def test_small_groups_that_together_hold_five_rows_are_reported_as_one_group():
    groups = group_labels(__import__("pandas").Series(["a"] * 50 + ["b", "c", "d", "e", "f"]))
    selected = np.array([True] * 50 + [False] * 5)
    table = group_fairness(selected, groups, None, 0.8)
    assert table["groups"]["__small_groups__"] == {"count": 5, "selection_rate": 0.0, "tpr": None, "fpr": None}
    assert table["disparate_impact_ratio"] == 0.0 and table["four_fifths_rule_breached"]


# -- the worker ----------------------------------------------------------------------------------------------------

def test_a_run_in_flight_when_its_version_is_approved_ends_failed_instead_of_being_recomputed_for_ever(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    version_id = _trained_and_staged(w)
    dataset = _scoring_set(w, tmp_path, drift=0.0, rows=200)
    first = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted").id
    _runner(w).step()
    model_id = w.app.get_version(w.ds, version_id).model_id
    for section in ("model_info", "domain_context", "fairness_bias", "risk_classification"):
        w.app.edit_section(w.manager, model_id, section, "documented")
    late = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset).id
    w.app.approve(w.manager, version_id, findings="fine", batch_run_id=first)
    assert _runner(w).step() == (None, True)
    run = w.app.batch_run(late)
    assert run.state is JobState.FAILED, f"the run is left {run.state} and is claimed again once its lease runs out"
    assert "approved" in run.error["message"]
    assert _runner(w, "batch-b", lease=0.01).step() == (None, False), "nothing left to run"
    assert w.app.get_version(w.manager, version_id).status is Status.APPROVED
    assert json.dumps(run.error)
