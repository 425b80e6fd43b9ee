"""Follow the ledger with tracking: each event applied exactly once, rows and position in one transaction.

All read models advance together under one tracking row, so every query sees them at the same position.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.database import Database
from migrations.read_models import INDEXES, TABLES

from .audit import AuditTrail, Jobs
from .registry import Lookups, Registry
from .rows import Rows

NAME = "read_models"
BATCH = 1_000  # following the ledger: short transactions
REBUILD_BATCH = 10_000  # rebuilding: fewer, larger transactions


def tracked(conn: Any, db: Database) -> int:
    """The notification id the read models have reached (0 before the first event)."""
    row = conn.execute(f"SELECT notification_id FROM projection_tracking WHERE name = {db.param()}", (NAME,)).fetchone()
    return int(row[0]) if row else 0


class Projector:
    """The read models of one database, fed from its ledger (`app` gives the event mapper)."""

    def __init__(self, db: Database, app: Any, *, batch: int = BATCH) -> None:
        self.db, self.app, self.batch = db, app, batch
        self.committed: int | None = None  # the position this process last wrote; memory is valid only there
        self.indexed = False
        self.rows = Rows(db.param(), copy=not db.is_sqlite)
        lookups = Lookups(self.rows)
        self.registry = Registry(self.rows)
        self.audit = AuditTrail(self.rows, lookups)
        self.models = [self.registry, self.audit, Jobs(self.rows, lookups)]

    def _apply_batch(self, conn: Any, position: int, end: int) -> None:
        p, nid_col, mapper = self.db.param(), self.db.nid_column, self.app.mapper
        oid = "originator_id" if self.db.is_sqlite else "originator_id::text"
        rows = conn.execute(f"SELECT {nid_col}, {oid}, originator_version, topic, state FROM ledger_events"
                            f" WHERE {nid_col} > {p} AND {nid_col} <= {p} ORDER BY {nid_col}", (position, end)).fetchall()
        for nid, originator, version, topic, state in rows:
            event = mapper.to_domain_event(StoredEvent(UUID(originator), version, topic, bytes(state)))
            # ISO 8601 in UTC with microseconds sorts as text, on SQLite and PostgreSQL alike.
            recorded_at = event.timestamp.astimezone(UTC).isoformat(timespec="microseconds")
            for model in self.models:
                model.apply(conn, nid, recorded_at, event)
        self.rows.flush(conn)

    def catch_up(self, *, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event after the tracked position (up to notification `until`); return the new position."""
        if not self.indexed:  # a rebuild killed before it indexed left them out
            self.index()
            self.indexed = True
        db, p = self.db, self.db.param()
        with db.connect() as conn:
            end = db.events(conn)
            end = min(end, until) if until is not None else end
            conn.rollback()
            while True:
                self._lock(conn)
                position = tracked(conn, db)
                if position != self.committed:
                    self.forget()  # another projector moved on, or this is a fresh start: re-read what is stored
                if position >= end:
                    conn.rollback()
                    break
                upto = min(position + self.batch, end)
                try:
                    self._apply_batch(conn, position, upto)
                    conn.execute(f"DELETE FROM projection_tracking WHERE name = {p}", (NAME,))
                    conn.execute(f"INSERT INTO projection_tracking (name, notification_id) VALUES ({p}, {p})", (NAME, upto))
                    conn.commit()
                except BaseException:
                    self.forget()  # what is in memory may now be ahead of what is stored
                    raise
                position = self.committed = upto
                if progress is not None:
                    progress(position, end)
        return position

    def _lock(self, conn: Any) -> None:
        """One projector at a time: another process waits here, then continues from the new position."""
        if self.db.is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('govledger.projector'))")

    def forget(self) -> None:
        self.committed = None
        self.rows.forget()
        self.audit.recorded_by = None

    def rebuild(self, *, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the read models' rows and tracking, and apply the events again from the start."""
        with self.db.connect() as conn:
            self._lock(conn)
            if self.db.is_sqlite:
                for table in TABLES:
                    conn.execute(f"DELETE FROM {table}")
            else:
                conn.execute(f"TRUNCATE {', '.join(TABLES)}")
            for name, _ in INDEXES:  # bulk loading, then indexing once, is several times faster than indexing each row
                conn.execute(f"DROP INDEX IF EXISTS {name}")
            conn.execute(f"DELETE FROM projection_tracking WHERE name = {self.db.param()}", (NAME,))
            conn.commit()
        self.forget()
        self.indexed = True  # indexed once, at the end
        following, self.batch = self.batch, max(self.batch, REBUILD_BATCH)
        try:
            return self.catch_up(until=until, progress=progress)
        finally:
            self.batch = following
            self.index()

    def index(self) -> None:
        """Create the read models' secondary indexes if missing (after a rebuild, even an interrupted one), and
        refresh the planner's statistics: a freshly loaded table otherwise gets sequential scans."""
        with self.db.connect() as conn:
            self._lock(conn)
            for name, spec in INDEXES:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {spec}")
            conn.execute("ANALYZE" if self.db.is_sqlite else f"ANALYZE {', '.join(TABLES)}")
            conn.commit()


def catch_up(db: Database, app: Any, **kwargs: Any) -> int:
    return Projector(db, app).catch_up(**kwargs)


def rebuild(db: Database, app: Any, **kwargs: Any) -> int:
    return Projector(db, app).rebuild(**kwargs)
