"""Attacks on the training worker and its jobs, each test named after what must hold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psycopg

from domain.training import JobState
from ledger.health import Heartbeat

from .test_training_worker import _events, on_report
from .training_world import training_world


def _terminate_sessions(url: str) -> None:
    """What a PostgreSQL restart or an operator's pg_terminate_backend does to every session of the database."""
    database = urlsplit(url).path.removeprefix("/")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                     (database,))


def test_after_its_database_sessions_are_terminated_a_training_worker_still_renews_its_lease_and_notices_a_cancellation(
        pg_url, tmp_path, monkeypatch):
    w = training_world(pg_url, tmp_path)
    budget = 30
    job_id = w.request(time_budget_seconds=budget)
    worker = w.trainer(lease=0.6)  # the heartbeat renews and looks for a cancellation every 0.2 s
    reports = 0

    def terminate_then_cancel() -> None:
        nonlocal reports
        reports += 1
        if reports == 1:
            _terminate_sessions(pg_url)
            time.sleep(0.5)  # the heartbeat meets the dead session
        elif reports == 3:
            w.app.cancel_training(w.ds, job_id, reason="wrong target")

    on_report(monkeypatch, terminate_then_cancel)
    began = time.monotonic()
    worker.step()
    took = time.monotonic() - began
    job = w.app.training_job(job_id)
    assert job.state is JobState.CANCELLED and _events(w, "Completed") == 0
    assert took < budget / 2, f"the cancelled job trained on for {took:.1f} s of its {budget} s budget"


def test_with_the_default_lease_a_running_job_that_is_cancelled_stops_within_a_few_seconds(sqlite_url, tmp_path,
                                                                                             monkeypatch):
    w = training_world(sqlite_url, tmp_path)
    budget = 40
    job_id = w.request(time_budget_seconds=budget)
    worker = w.trainer(lease=30.0)  # GOVLEDGER_TRAINING_LEASE's default
    cancelled_at: list[float] = []

    def cancel_once() -> None:
        if not cancelled_at:
            w.app.cancel_training(w.ds, job_id, reason="wrong target")
            cancelled_at.append(time.monotonic())

    on_report(monkeypatch, cancel_once)
    worker.step()
    stopped_after = time.monotonic() - cancelled_at[0]
    assert w.app.training_job(job_id).state is JobState.CANCELLED and _events(w, "Completed") == 0
    assert stopped_after < 4, f"the cancelled job trained on for {stopped_after:.1f} s"


def test_a_worker_whose_lease_is_taken_over_mid_training_stops_and_never_records_an_outcome(sqlite_url, tmp_path,
                                                                                            monkeypatch):
    w = training_world(sqlite_url, tmp_path)
    job_id = w.request(time_budget_seconds=20)
    a = w.trainer("worker-a", lease=0.6)
    taken = False

    def stall_past_the_lease_and_be_replaced() -> None:  # what a long GC pause or a frozen VM does
        nonlocal taken
        if not taken:
            taken = True
            with w.db.connect() as conn:
                conn.execute("UPDATE job_queue SET lease_until = 0")
                conn.commit()
                assert a.queue.claim(conn, "worker-b", 30).job_id == job_id
            w.app.start_training(job_id, worker="worker-b", attempt=2, lease_seconds=30)

    on_report(monkeypatch, stall_past_the_lease_and_be_replaced)
    began = time.monotonic()
    a.step()
    job = w.app.training_job(job_id)
    assert (job.state, job.worker, job.attempt) == (JobState.RUNNING, "worker-b", 2), "worker-a recorded nothing"
    assert _events(w, "Completed") == _events(w, "Failed") == 0
    assert time.monotonic() - began < 10, "worker-a stopped once it saw its lease gone, not at the end of its budget"


def _cli(url: str, data_dir, key: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=url, GOVLEDGER_DATA_DIR=str(data_dir), GOVLEDGER_API_KEY=key)
    return subprocess.Popen([sys.executable, "-m", "govledger.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_training_request_while_no_training_worker_runs_says_so_instead_of_waiting_in_silence(sqlite_url, tmp_path):
    w = training_world(sqlite_url, tmp_path)
    request = ("train", "--dataset", str(w.dataset_id), "--target", "defaulted", "--task", "classification",
               "--budget", "2")
    following = _cli(sqlite_url, tmp_path, w.keys["dana"], *request, "--follow")
    _, said = following.communicate(timeout=60) if _cancel_when_queued(w, following) else ("", "")
    assert "no training worker is running" in said and "govledger workers --only trainer" in said
    done = _cli(sqlite_url, tmp_path, w.keys["dana"], *request)
    assert "no training worker is running" in done.communicate(timeout=60)[1] and done.returncode == 0
    Heartbeat(w.db, "trainer").beat("running")  # a worker that reported a moment ago
    quiet = _cli(sqlite_url, tmp_path, w.keys["dana"], *request)
    assert "no training worker" not in quiet.communicate(timeout=60)[1] and quiet.returncode == 0


def _cancel_when_queued(w, process: subprocess.Popen[str]) -> bool:  # type: ignore[no-untyped-def]
    """Let `train --follow` wait a moment for a worker, then end its job so that it returns."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        jobs = [n.originator_id for n in w.app.recorder.select_notifications(start=1, limit=100_000)
                if n.topic.endswith("TrainingJob.Requested")]
        if jobs:
            time.sleep(2)
            w.app.cancel_training(w.ds, jobs[-1], reason="no worker")
            return True
        time.sleep(0.2)
    return False
