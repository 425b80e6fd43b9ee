"""The training worker, in process, on SQLite and PostgreSQL: one job, one outcome, whatever goes wrong."""

from __future__ import annotations

import threading
import time
from uuid import UUID

import pytest

from domain.training import JobState
from ledger.artifacts import load_model
from ledger.jobs import progress_of
from workers import jobs as jobs_module
from workers.trainer import Trainer

from .training_world import training_world


def _events(world, suffix: str) -> int:
    topic = f"domain.training:TrainingJob.{suffix}"
    return len([n for n in world.app.recorder.select_notifications(start=1, limit=100_000) if n.topic == topic])


def test_a_requested_job_is_trained_once_into_a_version_with_schema_baseline_and_lineage(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    job_id = w.request()
    assert w.trainer().step() == (None, True)
    job = w.app.training_job(job_id)
    assert job.state is JobState.SUCCEEDED and job.attempt == 1
    version = w.app.get_version(w.ds, UUID(job.result["version_id"]))
    assert version.job_id == job_id and version.dataset_ids == [w.dataset_id] and version.trained_by == w.ds.user_id
    assert "gender" not in version.input_schema and version.protected_attributes == ["gender"]
    assert set(version.baseline) >= set(version.input_schema) and version.feature_domains["age"]["max"] >= 19
    assert len({entry["family"] for entry in version.leaderboard}) >= 4
    model = load_model(w.artifacts, version.artifact_hash)  # loaded only because its bytes match the ledger
    assert hasattr(model, "predict_proba")
    assert w.trainer("worker-b").step() == (None, False), "nothing left to run"
    assert _events(w, "Completed") == 1 and _events(w, "Started") == 1


def test_two_workers_never_claim_the_same_job(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    w.request()
    a, b = w.trainer("worker-a"), w.trainer("worker-b")
    with w.db.connect() as conn:
        a.queue.discover(conn)
        first = a.queue.claim(conn, "worker-a", 30)
        second = b.queue.claim(conn, "worker-b", 30)
    assert first is not None and second is None


def test_a_lease_that_ran_out_lets_another_worker_take_the_job_over(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    job_id = w.request()
    a = w.trainer("worker-a")
    with w.db.connect() as conn:
        a.queue.discover(conn)
        assert a.queue.claim(conn, "worker-a", -1).job_id == job_id  # claimed, then "died": its lease is over already
    w.app.start_training(job_id, worker="worker-a", attempt=1, lease_seconds=1)
    assert w.trainer("worker-b").step() == (None, True)
    job = w.app.training_job(job_id)
    assert job.state is JobState.SUCCEEDED and job.attempt == 2 and job.worker == "worker-b"
    assert _events(w, "Completed") == 1


def test_a_tampered_dataset_snapshot_fails_the_job_with_the_reason_and_the_worker_goes_on(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    bad = w.request()
    dataset = w.app.get_dataset(w.dataset_id)
    path = w.artifacts.root / dataset.content_hash[:2] / dataset.content_hash
    original = path.read_bytes()
    path.write_bytes(original.replace(b"F", b"M", 1))
    worker = w.trainer()
    worker.step()
    job = w.app.training_job(bad)
    assert job.state is JobState.FAILED and job.error["code"] == "artifact_invalid" and "altered" in job.error["message"]
    path.write_bytes(original)
    good = w.request()
    worker.step()
    assert w.app.training_job(good).state is JobState.SUCCEEDED


def test_a_job_cancelled_before_a_worker_claims_it_is_never_started(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    job_id = w.request()
    w.app.cancel_training(w.ds, job_id, reason="wrong target")
    w.trainer().step()
    assert w.app.training_job(job_id).state is JobState.CANCELLED and _events(w, "Started") == 0


def on_report(monkeypatch, callback) -> None:  # type: ignore[no-untyped-def]
    """Call `callback` each time the search reports its progress to the job's heartbeat."""
    report = jobs_module.Watch.report
    monkeypatch.setattr(jobs_module.Watch, "report", lambda self, progress: (report(self, progress), callback()))


def test_a_job_cancelled_while_it_trains_stops_and_records_no_version(db_url, tmp_path, monkeypatch):
    w = training_world(db_url, tmp_path)
    job_id = w.request(time_budget_seconds=20)
    worker = w.trainer(lease=0.6)  # the heartbeat looks every 0.2 s
    cancelled = False

    def cancel_once() -> None:
        nonlocal cancelled
        if not cancelled:
            w.app.cancel_training(w.ds, job_id)
            cancelled = True

    on_report(monkeypatch, cancel_once)
    worker.step()
    job = w.app.training_job(job_id)
    assert job.state is JobState.CANCELLED and job.result is None and _events(w, "Completed") == 0


def test_progress_is_reported_while_a_job_runs(db_url, tmp_path, monkeypatch):
    w = training_world(db_url, tmp_path)
    job_id = w.request(time_budget_seconds=3)
    seen = []
    worker = w.trainer(lease=0.6)

    def peek() -> None:
        with w.db.connect() as conn:
            live = progress_of(w.db, conn, str(job_id))
        if live:
            seen.append(live)

    on_report(monkeypatch, peek)
    worker.step()
    assert seen, "the lease heartbeat wrote progress while the job ran"
    assert all(0 <= p["fraction"] <= 1 and p["candidates"] >= 1 for p in seen)


@pytest.mark.parametrize(("target", "code"), [("income", "invalid_input")])
def test_a_request_the_domain_refuses_records_nothing(db_url, tmp_path, target, code):
    w = training_world(db_url, tmp_path)
    before = w.app.recorder.max_notification_id()
    with pytest.raises(Exception) as refused:
        w.request(target=target)
    assert getattr(refused.value, "code", None) == code and w.app.recorder.max_notification_id() == before


@pytest.mark.parametrize(("task", "target", "metric"), [("regression", "income", "rmse"), ("clustering", None, None)])
def test_regression_and_clustering_jobs_train_a_version_too(db_url, tmp_path, task, target, metric):
    w = training_world(db_url, tmp_path, rows=300)
    job_id = w.request(task=task, target=target, metric=metric, protected_attributes=["gender", "defaulted"]
                       if task == "clustering" else ["gender"])
    w.trainer().step()
    job = w.app.training_job(job_id)
    assert job.state is JobState.SUCCEEDED, job.error
    assert len({entry["family"] for entry in job.result["leaderboard"]}) >= 4
    version = w.app.get_version(w.ds, UUID(job.result["version_id"]))
    assert version.task == task and version.target == (target or "")


def test_a_result_too_large_for_an_event_fails_the_job_and_the_worker_goes_on(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    job_id = w.request()
    # The trained version (its baseline alone is ~3 KB here) no longer fits in one event, however few candidates the
    # search had time for on a loaded machine (at 4 KB a 4-candidate leaderboard slipped under the bound).
    w.app.recorder.max_event_bytes = 2_048
    worker = w.trainer()
    assert worker.step() == (None, True)
    job = w.app.training_job(job_id)
    assert job.state is JobState.FAILED and job.error["code"] == "event_too_large"
    assert _events(w, "Completed") == 0 and not [n for n in w.app.recorder.select_notifications(start=1, limit=10_000)
                                                  if n.topic.endswith("ModelVersion.Trained")]
    assert worker.step() == (None, False), "the worker went on; nothing is left to run"


def test_with_a_dask_scheduler_configured_a_jobs_cross_validation_fits_run_on_the_cluster(sqlite_url, tmp_path):
    from distributed import LocalCluster

    from tests.ml.test_compute import FinishedTasks

    w = training_world(sqlite_url, tmp_path)
    job_id = w.request(time_budget_seconds=1)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        tasks = FinishedTasks()
        cluster.scheduler.add_plugin(tasks)
        worker = w.trainer()
        worker.settings.dask_scheduler = cluster.scheduler_address
        worker.step()
    assert w.app.training_job(job_id).state is JobState.SUCCEEDED
    assert any("_fit_and_score" in key for key in tasks.keys), tasks.keys[:5]


def test_an_error_metric_is_reported_as_the_positive_error_the_user_asked_for(sqlite_url, tmp_path):
    w = training_world(sqlite_url, tmp_path, rows=300)
    job_id = w.request(task="regression", target="income", metric="rmse")
    w.trainer().step()
    result = w.app.training_job(job_id).result
    assert result["metric"] == "rmse" and result["greater_is_better"] is False and result["cv_mean"] > 0
    means = [entry["cv_mean"] for entry in result["leaderboard"]]
    assert means[0] == min(means), "best first: the smallest error"


def test_a_job_failing_with_an_error_longer_than_a_reason_may_be_fails_and_the_worker_goes_on(db_url, tmp_path,
                                                                                               monkeypatch):
    w = training_world(db_url, tmp_path)
    job_id = w.request()

    def explode(self, job, attempt, watch):  # type: ignore[no-untyped-def]
        raise ValueError("columns missing: " + ", ".join(f"feature_{i}" for i in range(1_000)) + "\x00")

    monkeypatch.setattr(Trainer, "work", explode)
    worker = w.trainer()
    assert worker.step() == (None, True)  # recording the failure used to raise InvalidInput and stop the worker
    job = w.app.training_job(job_id)
    assert job.state is JobState.FAILED and job.error["code"] == "training_error"
    assert job.error["message"].startswith("ValueError: columns missing") and len(job.error["message"]) <= 2_000
    assert worker.step() == (None, False)


def test_a_workers_second_job_is_still_watched_so_its_cancellation_stops_it(sqlite_url, tmp_path, monkeypatch):
    # SQLite connections belong to the thread that opened them: the worker's status connection, opened by the first
    # job's heartbeat thread, made the second job's heartbeat die with ProgrammingError at its first status write, so
    # its lease was never renewed again and its cancellation went unnoticed.
    monkeypatch.setattr("ledger.health.HEARTBEAT_S", 0.0)  # every heartbeat writes the worker's status
    w = training_world(sqlite_url, tmp_path)
    worker = w.trainer(lease=0.6)  # the heartbeat looks every 0.2 s
    first = w.request()
    worker.step()
    assert w.app.training_job(first).state is JobState.SUCCEEDED
    second = w.request(time_budget_seconds=20)
    # Another thread (a library's pool, say) now holds the ident the first heartbeat thread had, which the next one
    # would otherwise reuse, hiding the fault.
    idle = threading.Event()
    threading.Thread(target=idle.wait, daemon=True).start()
    cancelled, began = [], []

    def cancel_once() -> None:  # once the second job's heartbeat has had time to write the worker's status
        began.append(time.monotonic()) if not began else None
        if not cancelled and time.monotonic() - began[0] > 1.0:
            w.app.cancel_training(w.ds, second)
            cancelled.append(True)

    on_report(monkeypatch, cancel_once)
    began_step = time.monotonic()
    worker.step()
    idle.set()
    job = w.app.training_job(second)
    assert job.state is JobState.CANCELLED and job.result is None and _events(w, "Completed") == 1
    assert time.monotonic() - began_step < 12, "the search ran its whole 20 s budget: nobody noticed the cancellation"


def test_a_job_whose_workers_keep_dying_fails_after_its_last_attempt_instead_of_being_claimed_for_ever(db_url, tmp_path):
    from workers.jobs import MAX_ATTEMPTS

    w = training_world(db_url, tmp_path)
    job_id = w.request()
    for attempt in range(1, MAX_ATTEMPTS + 1):  # each worker started it and died without an outcome
        w.app.start_training(job_id, worker=f"dead-{attempt}", attempt=attempt, lease_seconds=1)
    worker = w.trainer("worker-z")
    with w.db.connect() as conn:
        worker.queue.discover(conn)
        conn.execute("UPDATE job_queue SET state = 'running', lease_until = 0")  # the last lease ran out
        conn.commit()
    assert worker.step() == (None, True)
    job = w.app.training_job(job_id)
    assert job.state is JobState.FAILED and job.error["code"] == "too_many_attempts" and job.attempt == MAX_ATTEMPTS + 1
    assert worker.step() == (None, False), "nothing left to claim"
