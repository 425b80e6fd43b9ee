"""Attacks on batch runs over HTTP, from docs/api.md "Batch runs": each test is named after the attack; the ones that
held stay as cheap regression tests."""

from __future__ import annotations

import json
from uuid import UUID

import numpy as np

from domain.jobs import JobState
from govledger.demo_data import credit_data
from ledger.ingest import ingest_file
from workers.batch import BatchRunner
from workers.jobs import WorkerSettings

from .test_batch_api import _staged_version_and_holdout
from .test_training_api import http  # noqa: F401 - the fixture


def _step(w):
    return BatchRunner(w.app, w.db, w.artifacts, WorkerSettings(name="batch-a")).step()


def test_a_manager_cancels_the_batch_run_they_requested_and_nobody_else_can(http, tmp_path):  # noqa: F811
    w = http.world
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    run_id = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia",
                       json={"dataset_id": str(holdout)}).json()["job_id"]
    before = http.events()
    assert http.call("POST", f"/v1/jobs/{run_id}/cancel", "dana", json={"reason": "mine"}).status_code == 403
    assert http.events() == before + 1, "the refusal, recorded once"
    cancelled = http.call("POST", f"/v1/jobs/{run_id}/cancel", "mia", json={"reason": "wrong dataset"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
    assert w.app.batch_run(UUID(run_id)).state is JobState.CANCELLED
    assert _step(w) == (None, False) or w.app.batch_run(UUID(run_id)).state is JobState.CANCELLED


def test_report_names_outside_the_five_and_reports_of_an_unfinished_run_are_not_served(http, tmp_path):  # noqa: F811
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    headers = {"Authorization": f"Bearer {http.world.keys['mia']}", "Idempotency-Key": "run-1"}
    accepted = http.client.post(f"/v1/versions/{version}/batch-runs", json={"dataset_id": str(holdout)}, headers=headers)
    again = http.client.post(f"/v1/versions/{version}/batch-runs", json={"dataset_id": str(holdout)}, headers=headers)
    assert accepted.status_code == again.status_code == 202 and accepted.json() == again.json(), "replayed, not re-run"
    run_id = accepted.json()["job_id"]
    queued = http.call("GET", f"/v1/batch-runs/{run_id}/reports/drift", "mia")
    assert queued.status_code == 404 and "queued" in queued.json()["error"]["message"]
    for name in ("..%2F..%2Fkeys%2Fsigning.key", "../x", "secrets", "drift.json", "DRIFT"):
        assert http.call("GET", f"/v1/batch-runs/{run_id}/reports/{name}", "mia").status_code in (404, 422), name


def test_a_tampered_dataset_snapshot_fails_the_run_and_never_validates_the_version(http, tmp_path):  # noqa: F811
    w = http.world
    version, holdout = _staged_version_and_holdout(http, tmp_path)
    digest = w.app.get_dataset(holdout).content_hash
    run_id = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia",
                       json={"dataset_id": str(holdout)}).json()["job_id"]
    snapshot = w.artifacts.root / digest[:2] / digest
    snapshot.write_bytes(snapshot.read_bytes().replace(b"F", b"M", 3))
    _step(w)
    run = http.call("GET", f"/v1/batch-runs/{run_id}", "mia").json()
    assert run["state"] == "failed" and run["error"]["code"] == "artifact_invalid", run
    assert w.app.get_version(w.manager, version).status == "staged"


def test_a_one_row_batch_completes_with_sane_figures(http, tmp_path):  # noqa: F811
    """One row: the summary has no NaN or infinity (an AUC of one class is None, not NaN); a protected attribute of one
    row reads as free text (the profile calls a column of one value in one row a string) and is refused."""
    w = http.world
    version, _ = _staged_version_and_holdout(http, tmp_path)
    path = tmp_path / "one.csv"
    path.write_bytes(credit_data(np.random.default_rng(1), 1).to_csv())
    one = ingest_file(w.app, w.ds, w.artifacts, path, name="one", source="file:one.csv", source_kind="file",
                      max_bytes=10**8).id
    refused = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia", json={
        "dataset_id": str(one), "label_column": "defaulted", "protected_attributes": ["gender"]})
    assert refused.status_code == 422 and "free text" in refused.text
    run_id = http.call("POST", f"/v1/versions/{version}/batch-runs", "mia", json={
        "dataset_id": str(one), "label_column": "defaulted"}).json()["job_id"]
    _step(w)
    run = http.call("GET", f"/v1/batch-runs/{run_id}", "mia").json()
    assert run["state"] == "succeeded" and run["rows"] == 1, run
    text = json.dumps(run["summary"], allow_nan=False)  # raises on NaN or infinity
    assert "Infinity" not in text and "NaN" not in text


def test_thresholds_are_set_over_http_as_documented_and_out_of_range_ones_refused(http, tmp_path):  # noqa: F811
    w = http.world
    admin = w.app.authenticate(w.keys["root"])
    model_id = w.app.register_model(w.ds, name="scorecard").id
    path = f"/v1/models/{model_id}/compliance/config"
    before = http.events()
    for bad in ({"four_fifths": 0}, {"p_value": 1.5}, {"distance": "0.1"}, {"alpha": 0.1}):
        assert http.call("PUT", path, "root", json={"risk_tier": "high", "thresholds": bad}).status_code == 422, bad
    assert http.events() == before
    answer = http.call("PUT", path, "root", json={"risk_tier": "high", "thresholds": {"four_fifths": 0.9}})
    assert answer.status_code == 200, answer.text
    assert w.app.get_model(admin, model_id).config.thresholds["four_fifths"] == 0.9
