"""Several processes append at once while two sealers run: the chain never forks and no committed event is missed."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

from ledger.database import Database
from ledger.tree import sealed_size
from ledger.verify import verify_store

from .helpers import fill, query

WRITERS = 4
PER_WRITER = 60


def _write(url: str, writer: int) -> None:
    db = Database.from_url(url)
    fill(db, PER_WRITER // 2, start=writer * 1000)  # one event per transaction
    from domain.application import Governance
    from domain.datasets import Dataset

    app = Governance(env=db.eventsourcing_env())
    for batch in range(PER_WRITER // 10):  # and five events per transaction
        datasets = [Dataset.register(name=f"w{writer} b{batch} {i}", source="s3://x/y.csv", schema={"a": "integer"},
                                     row_count=i, content_hash="0" * 64, registered_by="ds") for i in range(5)]
        app.save(*datasets)
    app.close()


def _sealer(url: str, key_path) -> subprocess.Popen:
    env = {**os.environ, "GOVLEDGER_DATABASE_URL": url, "GOVLEDGER_SIGNING_KEY": str(key_path), "GOVLEDGER_SEAL_INTERVAL": "0.05"}
    sealer = subprocess.Popen([sys.executable, "-m", "govledger.cli", "seal"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert sealer.stderr is not None
    assert "running" in sealer.stderr.readline().decode()  # its signal handlers are in place: SIGTERM now stops it cleanly
    return sealer


@pytest.mark.slow
def test_concurrent_writer_processes_and_two_sealers_keep_one_unbroken_sealed_chain(db, db_url, key_path, signer):
    sealers = [_sealer(db_url, key_path) for _ in range(2)]
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_write, args=(db_url, w)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=120)
        assert p.exitcode == 0
    expected = WRITERS * (PER_WRITER // 2 + PER_WRITER // 10 * 5)
    deadline = time.monotonic() + 20
    with db.connect() as conn:
        while sealed_size(conn) < expected and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.05)
        conn.rollback()
        for s in sealers:
            s.send_signal(signal.SIGTERM)
        for s in sealers:
            _, stderr = s.communicate(timeout=20)
            assert s.returncode == 0, stderr.decode()
        report = verify_store(db, conn, signer.verifier)
    assert report.events == expected and report.sealed == expected
    ids = [i for (i,) in query(db, f"SELECT {db.nid_column} FROM ledger_events ORDER BY {db.nid_column}")]
    assert ids == list(range(1, expected + 1))
