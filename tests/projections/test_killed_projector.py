"""A projector killed mid-batch (SIGKILL of a real `govledger workers` process, on PostgreSQL) resumes with no loss
and no double counting: after each kill the read models hold exactly the events up to the tracked position, and
once caught up they equal a rebuild from scratch. The workers log in as the sealer role, as in production."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from domain.application import Governance
from ledger.database import Database
from projections.runner import Projector, tracked
from tests.ledger.helpers import login_url
from tests.projections.story import history
from tests.projections.test_read_models import snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _workers(url: str, key: Path, tmp: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=login_url(url, "sealer"), GOVLEDGER_SIGNING_KEY=str(key), GOVLEDGER_DATA_DIR=str(tmp),
               GOVLEDGER_PROJECTOR_BATCH="40", GOVLEDGER_SEAL_INTERVAL="0.05")
    return subprocess.Popen([sys.executable, "-m", "govledger.cli", "workers"], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _state(db: Database) -> tuple[int, int, int]:
    with db.connect() as conn:
        position = tracked(conn, db)
        audit, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(notification_id), 0) FROM audit_trail").fetchone()
    return position, int(audit), int(last)


def test_a_killed_projector_resumes_without_loss_or_double_counting(pg_url, key_path, tmp_path):
    db = Database.from_url(pg_url)
    app = Governance(env=db.eventsourcing_env())
    end = history(app, 6_000, random.Random(3), owner=app.create_admin("root").id, reviewer=uuid4())
    rng = random.Random(5)
    kills = 0
    deadline = time.monotonic() + 120
    while kills < 4:
        target = _state(db)[0] + rng.randint(50, 1_000)
        process = _workers(pg_url, key_path, tmp_path)
        assert "running" in process.stderr.readline()
        while _state(db)[0] < target:  # kill it while it works, wherever in a batch that falls
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        position, audit, last = _state(db)
        assert audit == last == position, f"after kill {kills}: tracked {position}, audit rows {audit}, last {last}"
        if 0 < position < end:
            kills += 1  # killed while it was still working through the ledger
        else:
            assert position < end, "the ledger was projected before a kill landed; make it longer"
        assert time.monotonic() < deadline
    process = _workers(pg_url, key_path, tmp_path)
    try:
        while _state(db)[0] < end:
            assert time.monotonic() < deadline and process.poll() is None, "the projector did not catch up"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    resumed = snapshot(db)
    Projector(db, app).rebuild()
    assert snapshot(db) == resumed
