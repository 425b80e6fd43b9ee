"""The sealer: appends committed events to the stored Merkle tree in position order and signs a checkpoint.

Each seal is one transaction (tree nodes and the checkpoint together), so an interrupted seal
leaves nothing behind and the next one starts again from the last checkpoint. One sealer at a
time: SQLite's write lock (BEGIN IMMEDIATE), or a PostgreSQL advisory lock that a second sealer
skips instead of waiting on. The sealer recomputes each leaf and chain link from the stored bytes
of the events it seals, and never signs a leaf the bytes do not give or a broken chain.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from ledger_tools.chain import GENESIS, chain_events
from ledger_tools.checkpoint import Checkpoint, sign_checkpoint
from ledger_tools.note import Signer

from . import database
from .database import Database
from .errors import IntegrityFailure
from .tree import sealed_size, stored_compact_range
from .verify import canonical_id, event_query

SEALER_LOCK_KEY = 0x676F764C65646772  # "govLedgr"


def _begin(db: Database, conn: Any) -> bool:
    if db.is_sqlite:
        _take_sqlite_write_lock(conn)
        return True
    return bool(conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SEALER_LOCK_KEY,)).fetchone()[0])


def _take_sqlite_write_lock(conn: Any) -> None:
    """BEGIN IMMEDIATE, retried every half millisecond.

    SQLite's own busy handler backs off up to 100 ms between tries, so under a steady stream of
    short writer transactions the sealer would lose the race for seconds; short retries keep the
    sealing lag near the poll interval.
    """
    timeout = database.SQLITE_BUSY_TIMEOUT_S
    conn.execute("PRAGMA busy_timeout = 0")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def seal_once(db: Database, conn: Any, signer: Signer, *, batch: int = 50_000) -> Checkpoint | None:
    """Seal up to `batch` unsealed events; return the new checkpoint, or None if there was nothing to seal."""
    p, nid = db.param(), db.nid_column
    try:
        if not _begin(db, conn):
            conn.rollback()
            return None
        size = sealed_size(conn)
        previous = GENESIS
        if size:  # the last sealed event's chain hash, which the next link must follow; position = notification id - 1
            row = conn.execute(f"SELECT chain_hash FROM ledger_events WHERE {nid} = {p}", (size,)).fetchone()
            if row is None:
                raise IntegrityFailure("the last sealed event is missing", position=size - 1)
            previous = bytes(row[0])
        rows = conn.execute(event_query(db, f"WHERE {nid} > {p} AND {nid} <= {p}"), (size, size + batch)).fetchall()
        if not rows:
            conn.rollback()
            return None
        tree = stored_compact_range(db, conn, size)
        nodes: list[tuple[int, int, bytes]] = []
        for row, (leaf, chained) in zip(rows, _recomputed(db, previous, rows)):
            position = row[0] - 1
            if position != tree.size:
                raise IntegrityFailure(f"expected position {tree.size} next, found {position}: the ledger has a gap", position=tree.size)
            # Sign only what the stored bytes give: the leaf the writer stored is a claim, not a fact.
            if leaf != bytes(row[5]):
                raise IntegrityFailure("the stored leaf hash does not match the event's stored bytes; refusing to seal",
                                       position=position)
            if chained != bytes(row[6]):
                raise IntegrityFailure("chain hash does not follow; refusing to seal a broken chain", position=position)
            nodes.append((0, position, leaf))
            tree.append(leaf, lambda level, index, h: nodes.append((level, index, h)))
        checkpoint = Checkpoint(signer.name, tree.size, tree.root())
        note = sign_checkpoint(checkpoint, signer)
        conn.cursor().executemany(f"INSERT INTO ledger_tree_nodes (level, idx, hash) VALUES ({p},{p},{p})", nodes)
        conn.execute(
            f"INSERT INTO ledger_checkpoints (tree_size, root_hash, note, signed_at) VALUES ({p},{p},{p},{p})",
            (checkpoint.size, checkpoint.root, note, datetime.now(UTC).isoformat()),
        )
        conn.commit()
        return checkpoint
    except BaseException:
        conn.rollback()
        raise


def _recomputed(db: Database, previous: bytes, rows: list[Any]) -> list[tuple[bytes, bytes]]:
    """(leaf hash, chain hash) of each row of `event_query`, from its stored bytes alone."""
    canonical = canonical_id(db)
    return chain_events(previous, [(canonical(r[1]), r[2], r[3], bytes(r[4])) for r in rows])


def seal_pending(db: Database, conn: Any, signer: Signer, *, batch: int = 50_000) -> Checkpoint | None:
    """Seal everything committed now, in batches; return the last checkpoint signed, or None if there was nothing."""
    last = None
    while (checkpoint := seal_once(db, conn, signer, batch=batch)) is not None:
        last = checkpoint
    return last
