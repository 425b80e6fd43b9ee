"""Follow the ledger with tracking: each event applied exactly once, rows and position in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.database import Database

from .registry import NAME, TABLES, Registry

BATCH = 1_000


def tracked(conn: Any, db: Database, name: str = NAME) -> int:
    row = conn.execute(f"SELECT notification_id FROM projection_tracking WHERE name = {db.param()}", (name,)).fetchone()
    return int(row[0]) if row else 0


def catch_up(db: Database, mapper: Any, *, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
    """Apply every event after the tracked position (up to notification `until`); return the new position."""
    p, nid_col = db.param(), db.nid_column
    registry = Registry(p)
    oid = "originator_id" if db.is_sqlite else "originator_id::text"
    with db.connect() as conn:
        end = int(conn.execute(f"SELECT COALESCE(MAX({nid_col}), 0) FROM ledger_events").fetchone()[0])
        end = min(end, until) if until is not None else end
        position = tracked(conn, db)
        conn.rollback()
        while position < end:
            if db.is_sqlite:
                conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(
                f"SELECT {nid_col}, {oid}, originator_version, topic, state FROM ledger_events"
                f" WHERE {nid_col} > {p} AND {nid_col} <= {p} ORDER BY {nid_col}", (position, min(position + BATCH, end))).fetchall()
            for nid, originator, version, topic, state in rows:
                event = mapper.to_domain_event(StoredEvent(UUID(originator), version, topic, bytes(state)))
                registry.apply(conn, nid, event)
            position = min(position + BATCH, end)
            conn.execute(f"DELETE FROM projection_tracking WHERE name = {p}", (NAME,))
            conn.execute(f"INSERT INTO projection_tracking (name, notification_id) VALUES ({p}, {p})", (NAME, position))
            conn.commit()
            if progress is not None:
                progress(position, end)
    return position


def rebuild(db: Database, mapper: Any, *, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
    """Drop the read models' rows and tracking, and apply the events again from the start."""
    with db.connect() as conn:
        if db.is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.execute(f"DELETE FROM projection_tracking WHERE name = {db.param()}", (NAME,))
        conn.commit()
    return catch_up(db, mapper, until=until, progress=progress)
