"""The batch worker, in process and as real processes: a version scored on a dataset, its reports kept under their
SHA-256, its completion recorded once on the run and on the version."""

from __future__ import annotations

import hashlib
import json
from uuid import UUID

import numpy as np
import pytest

from domain.errors import PreconditionFailed
from domain.jobs import JobState
from domain.models import Status
from govledger.demo_data import credit_data
from ledger.ingest import ingest_file
from workers.batch import BatchRunner
from workers.jobs import WorkerSettings

from .test_killed_trainer import kill_mid_way_and_take_over
from .training_world import training_world


def _trained_and_staged(w):
    job_id = w.request(time_budget_seconds=2)
    w.trainer().step()
    version_id = UUID(w.app.training_job(job_id).result["version_id"])
    w.app.export_to_staging(w.ds, version_id)
    return version_id


def _scoring_set(w, tmp_path, *, drift: float, rows: int = 600):
    path = tmp_path / f"holdout-{drift}.csv"
    path.write_bytes(credit_data(np.random.default_rng(11), rows, drift=drift).to_csv())
    return ingest_file(w.app, w.ds, w.artifacts, path, name=f"holdout {drift}", source="file:holdout.csv",
                       source_kind="file", max_bytes=10**8).id


def _runner(w, name="batch-a", lease=30.0):
    return BatchRunner(w.app, w.db, w.artifacts, WorkerSettings(lease_seconds=lease, name=name))


def test_a_requested_batch_run_is_computed_once_and_validates_the_version(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    version_id = _trained_and_staged(w)
    dataset = _scoring_set(w, tmp_path, drift=0.0)
    run_id = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted",
                                     protected_attributes=["gender"]).id
    assert _runner(w).step() == (None, True)
    run = w.app.batch_run(run_id)
    assert run.state is JobState.SUCCEEDED and run.result["rows"] == 600
    summary = run.result["summary"]
    assert set(summary["fairness"]["gender"]) >= {"demographic_parity_difference", "equalized_odds_difference",
                                                  "disparate_impact_ratio", "four_fifths_rule_breached", "groups"}
    assert summary["performance"]["roc_auc"] > 0.6 and summary["explanations"]["global_importance"]
    for name, digest in run.result["report_hashes"].items():
        assert hashlib.sha256(w.artifacts.get(digest)).hexdigest() == digest, name
    json.loads(w.artifacts.get(run.result["report_hashes"]["drift"]))
    version = w.app.get_version(w.manager, version_id)
    assert version.status is Status.VALIDATED and version.last_batch_run["run_id"] == str(run_id)
    assert _runner(w, "batch-b").step() == (None, False), "nothing left to run"


def test_drift_in_the_scored_data_is_found_and_makes_the_approval_justify_it(db_url, tmp_path):
    w = training_world(db_url, tmp_path, rows=1_500)
    version_id = _trained_and_staged(w)
    dataset = _scoring_set(w, tmp_path, drift=3.0, rows=1_500)
    w.low_risk_and_documented(w.app.get_version(w.ds, version_id).model_id)  # before the run: it is judged by these
    run_id = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted").id
    _runner(w).step()
    run = w.app.batch_run(run_id)
    assert run.state is JobState.SUCCEEDED and run.result["drift_detected"], run.result["summary"]["drift"]
    assert {"income", "debt_ratio"} <= set(run.result["summary"]["drift"]["drifted_features"])
    with pytest.raises(PreconditionFailed, match="justification"):
        w.app.approve(w.manager, version_id, findings="fine", batch_run_id=run_id)
    w.app.approve(w.manager, version_id, findings="fine", batch_run_id=run_id,
                  justification="Incomes fell in the scenario; the model's ranking still holds on it.")


def test_a_dataset_that_lacks_the_label_classes_fails_the_run_with_the_reason(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    version_id = _trained_and_staged(w)
    path = tmp_path / "odd.csv"
    rows = credit_data(np.random.default_rng(5), 50).to_csv().decode().replace(",True\n", ",maybe\n").encode()
    path.write_bytes(rows)
    dataset = ingest_file(w.app, w.ds, w.artifacts, path, name="odd", source="file:odd.csv", source_kind="file",
                          max_bytes=10**8).id
    run_id = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted").id
    _runner(w).step()
    run = w.app.batch_run(run_id)
    assert run.state is JobState.FAILED and run.error["code"] == "invalid_batch_request", run.error
    assert "maybe" in run.error["message"]
    assert w.app.get_version(w.manager, version_id).status is Status.STAGED


@pytest.mark.slow
def test_a_batch_worker_killed_mid_run_is_replaced_and_the_run_completes_once(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    version_id = _trained_and_staged(w)
    dataset = _scoring_set(w, tmp_path, drift=0.0, rows=40_000)
    run_id = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted",
                                     protected_attributes=["gender"]).id
    kill_mid_way_and_take_over(db_url, tmp_path, "batch", lambda: w.app.batch_run(run_id).state, mid_way=0.5,
                               seconds=180)
    topics = [n.topic for n in w.app.recorder.select_notifications(start=1, limit=100_000)]
    assert topics.count("domain.batch:BatchRun.Completed") == 1 and topics.count("domain.batch:BatchRun.Started") == 2
    assert topics.count("domain.models:ModelVersion.BatchRunCompleted") == 1 and w.app.batch_run(run_id).attempt == 2


def test_fairness_is_measured_on_the_favourable_outcome_the_request_names(sqlite_url, tmp_path):
    w = training_world(sqlite_url, tmp_path)
    version_id = _trained_and_staged(w)
    dataset = _scoring_set(w, tmp_path, drift=0.0)
    runs = {}
    for favourable in (None, False):  # the positive class (defaulted) by default; not defaulting when named
        run_id = w.app.request_batch_run(w.manager, version_id, dataset_id=dataset, label_column="defaulted",
                                         protected_attributes=["gender"], favourable_outcome=favourable).id
        _runner(w, f"batch-{favourable}").step()
        runs[favourable] = w.app.batch_run(run_id).result["summary"]["fairness"]["gender"]["groups"]
    for group in ("F", "M"):
        assert abs(runs[None][group]["selection_rate"] + runs[False][group]["selection_rate"] - 1) < 1e-9
