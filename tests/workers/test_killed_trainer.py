"""Real worker processes: a training worker killed with SIGKILL mid-training leaves a job that another worker takes
over once the lease runs out, and the job completes exactly once (one TrainingCompleted, one version)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.training import JobState

from .training_world import training_world

pytestmark = pytest.mark.slow


def worker_process(url: str, data_dir: Path, only: str = "trainer") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=url, GOVLEDGER_DATA_DIR=str(data_dir), GOVLEDGER_SEAL_INTERVAL="0.1",
               GOVLEDGER_TRAINING_LEASE="2", GOVLEDGER_TRAINING_CV_FOLDS="3")
    return subprocess.Popen([sys.executable, "-m", "govledger.cli", "workers", "--only", only], env=env,
                            cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(condition, seconds: float, what: str, process: subprocess.Popen[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}: {process.stderr.read() if process.stderr else ''}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stop(*processes: subprocess.Popen[str] | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def kill_mid_way_and_take_over(url: str, data_dir: Path, only: str, state: Callable[[], JobState], *, mid_way: float,
                               seconds: float) -> None:
    """Start a worker process, SIGKILL it `mid_way` seconds into the job, check it recorded nothing more, and start
    another that must finish the job once the lease has run out."""
    first, second = worker_process(url, data_dir, only), None
    try:
        wait_for(lambda: state() is JobState.RUNNING, 60, "the first attempt to start", first)
        time.sleep(mid_way)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert state() is JobState.RUNNING, "the killed worker recorded nothing more"
        second = worker_process(url, data_dir, only)
        wait_for(lambda: state() is JobState.SUCCEEDED, seconds, "the takeover to complete", second)
    finally:
        stop(first, second)


def test_a_trainer_killed_mid_training_is_replaced_and_the_job_completes_exactly_once(db_url, tmp_path):
    w = training_world(db_url, tmp_path)
    job_id = w.request(time_budget_seconds=6)
    kill_mid_way_and_take_over(db_url, tmp_path, "trainer", lambda: w.app.training_job(job_id).state, mid_way=1.0,
                               seconds=90)
    job = w.app.training_job(job_id)
    assert job.attempt == 2
    topics = [n.topic for n in w.app.recorder.select_notifications(start=1, limit=100_000)]
    assert topics.count("domain.training:TrainingJob.Completed") == 1
    assert topics.count("domain.training:TrainingJob.Started") == 2
    assert topics.count("domain.models:ModelVersion.Trained") == 1


def test_several_trainer_processes_share_the_queue_and_run_each_job_exactly_once(db_url, tmp_path):
    w = training_world(db_url, tmp_path, rows=200)
    jobs = [w.request(time_budget_seconds=1) for _ in range(4)]
    workers = [worker_process(db_url, tmp_path) for _ in range(2)]
    try:
        wait_for(lambda: all(w.app.training_job(j).state is JobState.SUCCEEDED for j in jobs), 120, "every job to complete")
    finally:
        stop(*workers)
    topics = [n.topic for n in w.app.recorder.select_notifications(start=1, limit=100_000)]
    assert topics.count("domain.training:TrainingJob.Started") == 4 and topics.count("domain.training:TrainingJob.Completed") == 4
    assert topics.count("domain.models:ModelVersion.Trained") == 4
    assert all(w.app.training_job(j).attempt == 1 for j in jobs), "no job was started twice"
