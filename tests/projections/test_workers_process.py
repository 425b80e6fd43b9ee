"""`govledger workers`, logged in as the sealer role as in production: it survives PostgreSQL terminating its
sessions (a server restart), reports its health, and stops loudly, exiting non-zero, on an event it cannot apply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.application import Governance
from ledger.database import Database
from ledger.health import worker_statuses
from projections.runner import tracked
from tests.ledger.helpers import fill, login_url
from tests.projections.test_projector_faults import append_unprojectable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _workers(url: str, key: Path, tmp: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=login_url(url, "sealer"), GOVLEDGER_SIGNING_KEY=str(key), GOVLEDGER_DATA_DIR=str(tmp),
               GOVLEDGER_SEAL_INTERVAL="0.05")
    return subprocess.Popen([sys.executable, "-m", "govledger.cli", "workers"], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _caught_up(db: Database, process: subprocess.Popen[str], events: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with db.connect() as conn:
            sealed = conn.execute("SELECT COALESCE(MAX(tree_size), 0) FROM ledger_checkpoints").fetchone()[0]
            if sealed == events and tracked(conn, db) == events:
                return
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, f"sealed {sealed}, projected {tracked(conn, db)}, expected {events}"
        time.sleep(0.05)


def test_workers_survive_their_sessions_being_terminated_as_in_a_server_restart(pg_url, key_path, tmp_path):
    db = Database.from_url(pg_url)
    fill(db, 5)
    process = _workers(pg_url, key_path, tmp_path)
    try:
        _caught_up(db, process, 5)
        with db.connect() as conn:
            killed = conn.execute("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                  " WHERE usename = 'govledger_test_sealer' AND datname = current_database()").fetchone()[0]
            conn.commit()
        assert killed >= 2  # the sealer's and the projector's sessions, at least
        fill(db, 4, start=5)
        _caught_up(db, process, 9)
        with db.connect() as conn:
            assert {s.name: s.state for s in worker_statuses(db, conn)} == {"sealer": "running", "projector": "running", "trainer": "running",
                                                                                 "batch worker": "running", "deployer": "running"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    with db.connect() as conn:
        assert {s.state for s in worker_statuses(db, conn)} == {"stopped"}


def test_workers_exit_non_zero_naming_the_position_of_an_event_the_projector_cannot_apply(pg_url, key_path, tmp_path):
    db = Database.from_url(pg_url)
    fill(db, 3)
    app = Governance(env=db.eventsourcing_env())
    bad = append_unprojectable(app)
    app.close()
    process = _workers(pg_url, key_path, tmp_path)
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert code != 0 and f"position {bad}" in stderr and "projection_failed" in stderr, stderr
    assert "Traceback" not in stderr
    with db.connect() as conn:
        states = {s.name: (s.state, s.position) for s in worker_statuses(db, conn)}
        assert states["projector"] == ("failed", bad) and tracked(conn, db) == bad


def test_a_sealer_run_without_the_right_to_sign_stops_with_one_line_and_a_non_zero_exit(pg_url, key_path, tmp_path):
    db = Database.from_url(pg_url)
    fill(db, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=login_url(pg_url, "service"), GOVLEDGER_SIGNING_KEY=str(key_path),
               GOVLEDGER_DATA_DIR=str(tmp_path))  # the API's role: it may not add tree nodes or checkpoints
    result = subprocess.run([sys.executable, "-m", "govledger.cli", "seal"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "worker_failed" in result.stderr and "permission denied" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM ledger_checkpoints").fetchone()[0] == 0
