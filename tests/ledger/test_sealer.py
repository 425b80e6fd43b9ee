"""The sealer: checkpoints cover every committed event, a failed seal leaves nothing behind, a broken chain is never signed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from uuid import uuid4

import pytest

from ledger.database import Database

from ledger.errors import IntegrityFailure
from ledger.sealer import seal_once
from ledger.tree import stored_consistency_proof, stored_inclusion_proof, stored_root
from ledger_tools import open_checkpoint, verify_consistency, verify_inclusion
from ledger_tools.chain import GENESIS, chain_hash
from workers.sealer import run_sealer

from .helpers import as_attacker, fill, login_url, query, seal_all


def test_each_seal_signs_a_checkpoint_over_everything_committed(db, signer):
    fill(db, 7)
    with db.connect() as conn:
        first = seal_once(db, conn, signer)
        assert first is not None and first.size == 7
        assert seal_once(db, conn, signer) is None  # nothing new: no new checkpoint
    fill(db, 6, start=7)
    assert seal_all(db, signer) == 13
    notes = [n for (n,) in query(db, "SELECT note FROM ledger_checkpoints ORDER BY tree_size")]
    older, newer = (open_checkpoint(n, signer.verifier, origin=signer.name) for n in notes)
    with db.connect() as conn:
        p = db.param()
        verify_consistency(7, 13, stored_consistency_proof(db, conn, 7, 13), older.root, newer.root)
        assert stored_root(db, conn, 13) == newer.root
        leaf = bytes(conn.execute(f"SELECT leaf_hash FROM ledger_events WHERE {db.nid_column} = {p}", (10,)).fetchone()[0])
        verify_inclusion(9, 13, leaf, stored_inclusion_proof(db, conn, 9, 13), newer.root)


def test_a_seal_in_batches_signs_one_checkpoint_per_batch(db, signer):
    fill(db, 10)
    with db.connect() as conn:
        sizes = []
        while (cp := seal_once(db, conn, signer, batch=4)) is not None:
            sizes.append(cp.size)
    assert sizes == [4, 8, 10]


class _KilledBeforeTheCheckpoint:
    """A connection whose process dies as the checkpoint is written, after the tree nodes went in."""

    def __init__(self, conn):
        self.conn = conn
        self.nodes_written = 0

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def execute(self, sql, *args, **kwargs):
        if sql.startswith("INSERT INTO ledger_checkpoints"):
            self.nodes_written = self.conn.execute("SELECT COUNT(*) FROM ledger_tree_nodes").fetchone()[0]
            raise KeyboardInterrupt
        return self.conn.execute(sql, *args, **kwargs)


def test_an_interrupted_seal_leaves_nothing_half_written(db, signer):
    fill(db, 5)
    with db.connect() as conn, pytest.raises(KeyboardInterrupt):
        killed = _KilledBeforeTheCheckpoint(conn)
        seal_once(db, killed, signer)
    assert killed.nodes_written > 0  # the crash came after the nodes were written, inside the seal's transaction
    assert query(db, "SELECT COUNT(*) FROM ledger_tree_nodes")[0][0] == 0
    assert query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0] == 0
    assert seal_all(db, signer) == 5


def test_the_sealer_refuses_to_sign_a_broken_chain(db, signer):
    fill(db, 4)
    as_attacker(db, "UPDATE ledger_events SET chain_hash = ? WHERE rowid = 3", (bytes(32),))
    with db.connect() as conn, pytest.raises(IntegrityFailure, match="refusing to seal") as info:
        seal_once(db, conn, signer)
    assert info.value.position == 2
    assert query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0] == 0


def _rechained_with_a_forged_leaf(db, position: int) -> None:
    """A writer that stores a leaf its bytes do not give, and chains it properly so the links all follow."""
    rows = query(db, f"SELECT {db.nid_column}, chain_hash FROM ledger_events ORDER BY {db.nid_column}")
    previous = bytes(rows[position - 1][1]) if position else GENESIS
    for nid, _ in rows[position:]:
        leaf = bytes(query(db, f"SELECT leaf_hash FROM ledger_events WHERE {db.nid_column} = ?", (nid,))[0][0])
        if nid == position + 1:
            leaf = hashlib.sha256(b"a leaf of other bytes").digest()
        previous = chain_hash(previous, leaf)
        as_attacker(db, "UPDATE ledger_events SET leaf_hash = ?, chain_hash = ? WHERE rowid = ?", (leaf, previous, nid))


def test_the_sealer_refuses_to_sign_a_stored_leaf_its_event_bytes_do_not_give(db, signer):
    fill(db, 6)
    _rechained_with_a_forged_leaf(db, 3)
    with db.connect() as conn, pytest.raises(IntegrityFailure, match="leaf hash does not match the event's stored bytes") as info:
        seal_once(db, conn, signer)
    assert info.value.position == 3
    assert query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0] == 0
    assert query(db, "SELECT COUNT(*) FROM ledger_tree_nodes")[0][0] == 0


def test_the_sealer_refuses_a_forged_leaf_appended_through_the_append_function_as_the_service_role(pg_url, signer):
    fill(Database.from_url(pg_url), 2)
    service = Database.from_url(login_url(pg_url, "service"))
    with service.connect() as conn:
        conn.execute("SELECT govledger_append(%s, %s, %s, %s, %s)", (
            [uuid4()], [1], ["domain.datasets:Dataset.Registered"], [b"{}"], [hashlib.sha256(b"not these bytes").digest()]))
        conn.commit()
    with service.connect() as conn, pytest.raises(IntegrityFailure, match="leaf hash does not match") as info:
        seal_once(service, conn, signer)
    assert info.value.position == 2


def test_the_sealer_worker_survives_another_sqlite_writer_holding_the_lock_past_the_busy_timeout(sqlite_url, signer, monkeypatch):
    import ledger.database

    monkeypatch.setattr(ledger.database, "SQLITE_BUSY_TIMEOUT_S", 1)
    db = Database.from_url(sqlite_url)
    fill(db, 3)
    stop = threading.Event()
    worker = threading.Thread(target=run_sealer, args=(db, signer), kwargs={"interval": 0.05, "batch": 100, "stop": stop},
                              daemon=True)
    with db.connect() as blocker:
        blocker.execute("BEGIN IMMEDIATE")
        worker.start()
        worker.join(2.5)
        assert worker.is_alive(), "the sealer died on a locked database"
        blocker.execute("ROLLBACK")
    try:
        deadline = time.monotonic() + 10
        while not query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0]:
            assert time.monotonic() < deadline, "nothing sealed once the lock was released"
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()


def test_govledger_seal_once_seals_what_is_committed_and_exits(db_url, key_path, tmp_path):
    db = Database.from_url(db_url)
    fill(db, 4)
    url = login_url(db_url, "sealer") if not db.is_sqlite else db_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=url, GOVLEDGER_SIGNING_KEY=str(key_path), GOVLEDGER_DATA_DIR=str(tmp_path))

    def seal_once_cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "govledger.cli", "seal", "--once"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    first = seal_once_cli()
    assert first.returncode == 0 and "sealed up to tree size 4" in first.stdout, first.stdout + first.stderr
    again = seal_once_cli()
    assert again.returncode == 0 and "nothing to seal" in again.stdout, again.stdout + again.stderr
