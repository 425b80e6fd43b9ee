"""Workers' health: each worker writes its state to `worker_status`; the API's /readyz and /metrics read it.

A worker reports `running` (with the position it reached), `retrying` (a transient database fault, with
the error), `failed` (a permanent fault: it stopped, naming the position and the reason) or `stopped`
(shut down on request). A `running` or `retrying` worker that has not written for STALE_AFTER seconds died
without a word (killed, or its host lost).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from .database import Database
from .errors import DatabaseUnavailable, LedgerError

log = logging.getLogger("govledger.health")

#: Faults that pass: the database restarted, a session was terminated, another writer held SQLite's lock.
TRANSIENT = (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError,
             DatabaseUnavailable)
HEARTBEAT_S = 5.0  # a running worker writes at most this often, and on every change of state
STALE_AFTER_S = 60.0


class WorkersUnhealthy(LedgerError):
    code = "workers_unhealthy"


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    state: str  # running | retrying | failed | stopped
    position: int | None
    error: str | None
    updated_at: datetime

    def problem(self, now: datetime) -> str | None:
        """Why this worker makes the service not ready, or None."""
        if self.state == "failed":
            return f"the {self.name} stopped" + (f" at position {self.position}" if self.position is not None else "") + f": {self.error}"
        if self.state in ("running", "retrying") and (now - self.updated_at).total_seconds() > STALE_AFTER_S:
            return f"the {self.name} has not reported for {int((now - self.updated_at).total_seconds())} s"
        return None


def worker_statuses(db: Database, conn: Any) -> list[WorkerStatus]:
    rows = conn.execute("SELECT name, state, position, error, updated_at FROM worker_status ORDER BY name").fetchall()
    conn.rollback()
    return [WorkerStatus(name, state, position, error, datetime.fromisoformat(at)) for name, state, position, error, at in rows]


def require_healthy_workers(db: Database, conn: Any) -> None:
    """Raise WorkersUnhealthy naming every failed or silent worker; no worker reporting is healthy (none deployed)."""
    now = datetime.now(UTC)
    problems = [p for s in worker_statuses(db, conn) if (p := s.problem(now)) is not None]
    if problems:
        raise WorkersUnhealthy("; ".join(problems))


class Heartbeat:
    """Writes one worker's status on its own connection; a failure to write is logged, never fatal to the worker."""

    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name = db, name
        self.conn: Any = None
        self.last: tuple[str, str | None] | None = None
        self.written = 0.0

    def beat(self, state: str, position: int | None = None, error: str | None = None) -> None:
        now = time.monotonic()
        if (state, error) == self.last and now - self.written < HEARTBEAT_S:
            return  # progress alone is reported at the heartbeat's pace; a change of state at once
        p = self.db.param()
        for attempt in (1, 2):  # a session the server ended (a restart) is replaced once
            try:
                if self.conn is None:
                    self.conn = self.db.open()
                    if self.db.is_sqlite:  # a status is not worth waiting out another writer's lock for long
                        self.conn.execute("PRAGMA busy_timeout = 1000")
                self.conn.execute(
                    f"INSERT INTO worker_status (name, state, position, error, updated_at) VALUES ({p}, {p}, {p}, {p}, {p})"
                    " ON CONFLICT (name) DO UPDATE SET state = excluded.state, position = excluded.position,"
                    " error = excluded.error, updated_at = excluded.updated_at",
                    (self.name, state, position, error, datetime.now(UTC).isoformat()))
                self.conn.commit()
                break
            except TRANSIENT as e:
                self.close()
                if attempt == 2:
                    log.warning("cannot record the %s's status (%s): %s", self.name, state, reason(e))
                    return
        self.last, self.written = (state, error), now

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is dropped either way
                pass
            self.conn = None


def reason(e: BaseException) -> str:
    """One line naming a fault, without a traceback (and never a password: drivers do not echo them)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def worker_gauges(statuses: list[WorkerStatus]) -> Iterator[Any]:
    """Prometheus gauges per worker: healthy (1/0, labelled with its state), position, seconds since it reported."""
    from prometheus_client.core import GaugeMetricFamily

    now = datetime.now(UTC)
    healthy = GaugeMetricFamily("govledger_worker_healthy", "1 unless the worker failed or stopped reporting", labels=["worker", "state"])
    position = GaugeMetricFamily("govledger_worker_position", "how far the worker got (events sealed or projected)", labels=["worker"])
    age = GaugeMetricFamily("govledger_worker_report_age_seconds", "seconds since the worker last reported", labels=["worker"])
    for s in statuses:
        healthy.add_metric([s.name, s.state], 0 if s.problem(now) else 1)
        position.add_metric([s.name], s.position or 0)
        age.add_metric([s.name], (now - s.updated_at).total_seconds())
    yield from (healthy, position, age)
