"""Follow the ledger with tracking: each event applied exactly once, rows and position in one transaction.

All read models advance together under one tracking row, so every query sees them at the same position.
The projector only reads and writes rows: the schema, indexes included, belongs to migrations/, so the
service's database role can run it. An event it cannot apply stops it with ProjectionFailed naming the
position; the events before it stay applied.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.database import Database
from ledger.errors import ProjectionFailed
from ledger.health import TRANSIENT, reason
from migrations.read_models import TABLES

from .audit import AuditTrail, Jobs
from .deployments import DeploymentsView
from .predictions import PredictionsView
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
        self.rows = Rows(db.param(), copy=not db.is_sqlite)
        lookups = Lookups(self.rows)
        self.registry = Registry(self.rows)
        self.audit = AuditTrail(self.rows, lookups)
        self.models = [self.registry, self.audit, Jobs(self.rows, lookups), DeploymentsView(self.rows),
                       PredictionsView(self.rows)]

    def _apply_batch(self, conn: Any, position: int, end: int) -> None:
        p, nid_col, mapper = self.db.param(), self.db.nid_column, self.app.mapper
        oid = "originator_id" if self.db.is_sqlite else "originator_id::text"
        rows = conn.execute(f"SELECT {nid_col}, {oid}, originator_version, topic, state FROM ledger_events"
                            f" WHERE {nid_col} > {p} AND {nid_col} <= {p} ORDER BY {nid_col}", (position, end)).fetchall()
        for nid, originator, version, topic, state in rows:
            try:
                event = mapper.to_domain_event(StoredEvent(UUID(originator), version, topic, bytes(state)))
                # ISO 8601 in UTC with microseconds sorts as text, on SQLite and PostgreSQL alike.
                recorded_at = event.timestamp.astimezone(UTC).isoformat(timespec="microseconds")
                for model in self.models:
                    model.apply(conn, nid, recorded_at, event)
            except TRANSIENT:
                raise
            except Exception as e:
                raise ProjectionFailed(f"cannot apply {topic.rsplit(':', 1)[-1]}: {reason(e)}", position=nid - 1) from e
        self.rows.flush(conn)  # a value the database refuses fails here, for the batch: _advance finds the event

    def _advance(self, conn: Any, position: int, upto: int) -> None:
        """Apply events (position, upto] and write the tracking row, in the caller's transaction.

        When the database refuses the batch's rows (a value it cannot hold), the batch is applied again one
        event at a time, inside a savepoint each, to name the event that cannot be applied.
        """
        p = self.db.param()
        conn.execute("SAVEPOINT batch")
        try:
            self._apply_batch(conn, position, upto)
        except TRANSIENT:
            raise
        except Exception as e:
            self.forget()
            conn.execute("ROLLBACK TO SAVEPOINT batch")
            if upto - position > 1:
                for nid in range(position, upto):
                    self._advance(conn, nid, nid + 1)
                return
            if isinstance(e, ProjectionFailed):
                raise
            raise ProjectionFailed(f"the read models cannot hold it: {reason(e)}", position=position) from e
        conn.execute("RELEASE SAVEPOINT batch")
        conn.execute(f"DELETE FROM projection_tracking WHERE name = {p}", (NAME,))
        conn.execute(f"INSERT INTO projection_tracking (name, notification_id) VALUES ({p}, {p})", (NAME, upto))

    def catch_up(self, *, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event after the tracked position (up to notification `until`), a batch per transaction;
        return the new position. An event that cannot be applied raises ProjectionFailed naming it, after the
        events before it are applied and committed."""
        return self._follow(until=until, progress=progress, commit_each=True)

    def _follow(self, *, until: int | None, progress: Callable[[int, int], None] | None, commit_each: bool,
                conn: Any = None) -> int:
        db = self.db
        with db.connect() if conn is None else nullcontext(conn) as conn:
            end = db.events(conn)
            end = min(end, until) if until is not None else end
            if commit_each:
                conn.rollback()
            while True:
                if commit_each:
                    self._lock(conn)
                position = tracked(conn, db)
                if position != self.committed:
                    self.forget()  # another projector moved on, or this is a fresh start: re-read what is stored
                if position >= end:
                    if commit_each:
                        conn.rollback()
                    break
                upto = min(position + self.batch, end)
                try:
                    self._advance(conn, position, upto)
                    if commit_each:
                        conn.commit()
                except ProjectionFailed:
                    self.forget()
                    if commit_each:
                        conn.commit()  # the events before the bad one, applied one at a time, with their tracking row
                    raise
                except BaseException:
                    self.forget()  # what is in memory may now be ahead of what is stored
                    if commit_each:
                        conn.rollback()
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
        """Rebuild the read models from the events, in one transaction: readers see the previous read models until
        it commits, and a rebuild that fails leaves them exactly as they were.

        On SQLite the rebuild holds the write lock throughout, so appends wait for it (up to the busy timeout).
        """
        with self.db.connect() as conn:
            self._lock(conn)
            if not self.db.is_sqlite:
                conn.execute("SET LOCAL statement_timeout = 0")  # an explicit rebuild of a large ledger may take long
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute(f"DELETE FROM projection_tracking WHERE name = {self.db.param()}", (NAME,))
            self.forget()
            following, self.batch = self.batch, max(self.batch, REBUILD_BATCH)
            try:
                position = self._follow(until=until, progress=progress, commit_each=False, conn=conn)
                conn.execute("ANALYZE" if self.db.is_sqlite else f"ANALYZE {', '.join(TABLES)}")  # fresh planner statistics
                conn.commit()
            except BaseException:
                conn.rollback()
                self.forget()
                raise
            finally:
                self.batch = following
        self.committed = position
        return position


def catch_up(db: Database, app: Any, **kwargs: Any) -> int:
    return Projector(db, app).catch_up(**kwargs)


def rebuild(db: Database, app: Any, **kwargs: Any) -> int:
    return Projector(db, app).rebuild(**kwargs)
