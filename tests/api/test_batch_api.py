"""Batch runs over HTTP: requested with 202, computed by a batch worker, read back with their summary, and each report
served only while it still hashes to what the ledger recorded."""

from __future__ import annotations

import hashlib
from uuid import UUID

import numpy as np

from govledger.demo_data import credit_data
from ledger.ingest import ingest_file
from workers.batch import BatchRunner
from workers.jobs import WorkerSettings

from .test_training_api import http  # noqa: F401 - the fixture

REPORT_NAMES = ("predictions", "drift", "explanations", "fairness", "performance")


def _staged_version_and_holdout(http, tmp_path):  # noqa: F811 - the fixture, used as a value
    w = http.world
    job_id = w.request(time_budget_seconds=2)
    w.trainer().step()
    version = UUID(w.app.training_job(job_id).result["version_id"])
    w.app.export_to_staging(w.ds, version)
    path = tmp_path / "holdout.csv"
    path.write_bytes(credit_data(np.random.default_rng(9), 400, drift=1.5).to_csv())
    holdout = ingest_file(w.app, w.ds, w.artifacts, path, name="holdout", source="file:holdout.csv", source_kind="file",
                          max_bytes=10**8).id
    return version, holdout


def test_a_batch_run_is_requested_computed_read_and_its_reports_downloaded_hash_checked(http, tmp_path):  # noqa: F811
    w = http.world
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    accepted = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia", json={
        "dataset_id": str(holdout), "label_column": "defaulted", "protected_attributes": ["gender"]})
    assert accepted.status_code == 202 and accepted.json()["kind"] == "batch_inference", accepted.text
    run_id = accepted.json()["job_id"]
    assert http.call("GET", f"/v1/jobs/{run_id}", "mia").json()["state"] == "queued"
    BatchRunner(w.app, w.db, w.artifacts, WorkerSettings(name="batch-a")).step()
    job = http.call("GET", f"/v1/jobs/{run_id}", "dana").json()
    assert job["state"] == "succeeded" and job["progress"] == 1.0 and job["result"]["batch_run_id"] == run_id
    run = http.call("GET", f"/v1/batch-runs/{run_id}", "root").json()
    assert set(run["summary"]) >= {"performance", "drift", "fairness", "explanations"}
    fairness = run["summary"]["fairness"]["gender"]
    assert {"demographic_parity_difference", "equalized_odds_difference", "disparate_impact_ratio",
            "four_fifths_rule_breached", "groups"} <= set(fairness)
    assert set(run["reports"]) == set(REPORT_NAMES) and run["drift_detected"] is True
    for name in REPORT_NAMES:
        answer = http.call("GET", f"/v1/batch-runs/{run_id}/reports/{name}", "mia")
        assert answer.status_code == 200 and hashlib.sha256(answer.content).hexdigest() == run["reports"][name]
    drift = run["reports"]["drift"]
    (w.artifacts.root / drift[:2] / drift).write_bytes(b"{}")
    tampered = http.call("GET", f"/v1/batch-runs/{run_id}/reports/drift", "mia")
    assert tampered.status_code == 503 and tampered.json()["error"]["code"] == "artifact_invalid"


def test_an_approval_over_http_names_the_computed_run_and_justifies_its_drift(http, tmp_path):  # noqa: F811
    w = http.world
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    w.low_risk_and_documented(w.app.get_version(w.ds, version).model_id)  # before the run: it is judged by these
    run_id = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia",
                       json={"dataset_id": str(holdout), "label_column": "defaulted"}).json()["job_id"]
    BatchRunner(w.app, w.db, w.artifacts, WorkerSettings(name="batch-a")).step()
    without = http.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok", "batch_run_id": run_id})
    assert without.status_code == 409 and "justification" in without.json()["error"]["message"]
    missing = http.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok"})
    assert missing.status_code == 422
    approved = http.call("POST", f"/v1/versions/{version}/approve", "mia", json={
        "findings": "ok", "batch_run_id": run_id, "justification": "The shift is the recession scenario we tested for."})
    assert approved.status_code == 200 and approved.json()["version"]["status"] == "approved"


def test_a_data_scientist_may_not_read_another_data_scientists_batch_run(http, tmp_path):  # noqa: F811
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    run_id = http.call("POST", f"/v1/versions/{version}/batch-runs", "dana",
                       json={"dataset_id": str(holdout)}).json()["job_id"]
    before = http.events()
    assert http.call("GET", f"/v1/batch-runs/{run_id}", "dev").status_code == 403
    assert http.call("POST", f"/v1/versions/{version}/batch-runs", "dev", json={"dataset_id": str(holdout)}).status_code == 403
    assert http.events() == before + 2
