"""The job queue: workers discover requested jobs in the ledger, claim one at a time under a lease, renew the lease
while they work, and report progress. Coordination goes through the database alone.

A claim takes the oldest job that is queued, or running under a lease that ran out (its worker died): on PostgreSQL
with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other; on SQLite under the write lock. The
claim only decides who tries: the ledger decides who ran it, since each attempt's start and the job's one outcome are
appended under the job's optimistic concurrency (a worker that lost its lease cannot end the job).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .database import Database

#: Most events searched for requests in one poll: a worker catching up on a long ledger does it in steps.
SCAN = 100_000


@dataclass(frozen=True)
class Claim:
    job_id: UUID


class JobQueue:
    """The queue of one kind of job ("training"), whose requests are events of `topic`."""

    def __init__(self, db: Database, kind: str, topic: str) -> None:
        self.db, self.kind, self.topic = db, kind, topic
        self.p = db.param()

    def discover(self, conn: Any) -> int:
        """Queue the requests recorded since the last search (at most SCAN events further); the number found.

        Events are numbered in commit order with no gaps, so what lies below the last id searched never changes."""
        p, nid = self.p, self.db.nid_column
        oid = "originator_id" if self.db.is_sqlite else "originator_id::text"
        row = conn.execute(f"SELECT scanned FROM job_discovery WHERE kind = {p}", (self.kind,)).fetchone()
        scanned = int(row[0]) if row else 0
        end = min(self.db.events(conn), scanned + SCAN)
        if end <= scanned:
            conn.rollback()
            return 0
        found = conn.execute(f"SELECT {nid}, {oid} FROM ledger_events WHERE {nid} > {p} AND {nid} <= {p} AND topic = {p}"
                             f" ORDER BY {nid}", (scanned, end, self.topic)).fetchall()
        now = time.time()
        for notification_id, job_id in found:  # another worker may queue the same job: the first insert wins
            conn.execute(f"INSERT INTO job_queue (job_id, kind, position, state, updated_at)"
                         f" VALUES ({p}, {p}, {p}, 'queued', {p}) ON CONFLICT (job_id) DO NOTHING",
                         (str(UUID(str(job_id))), self.kind, notification_id - 1, now))
        conn.execute(f"INSERT INTO job_discovery (kind, scanned) VALUES ({p}, {p}) ON CONFLICT (kind) DO UPDATE SET"
                     " scanned = CASE WHEN excluded.scanned > job_discovery.scanned THEN excluded.scanned"
                     " ELSE job_discovery.scanned END", (self.kind, end))
        conn.commit()
        return len(found)

    def claim(self, conn: Any, worker: str, lease_seconds: float) -> Claim | None:
        """Take the oldest waiting job (or one whose lease ran out) for `worker`, leased for `lease_seconds`."""
        p, now = self.p, time.time()
        lock = "" if self.db.is_sqlite else " FOR UPDATE SKIP LOCKED"
        if self.db.is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            f"UPDATE job_queue SET state = 'running', worker = {p}, lease_until = {p},"
            f" progress = NULL, updated_at = {p} WHERE job_id = (SELECT job_id FROM job_queue WHERE kind = {p}"
            f" AND (state = 'queued' OR (state = 'running' AND lease_until < {p})) ORDER BY position LIMIT 1{lock})"
            " RETURNING job_id", (worker, now + lease_seconds, now, self.kind, now)).fetchone()
        conn.commit()
        return None if row is None else Claim(UUID(row[0]))

    def renew(self, conn: Any, job_id: UUID, worker: str, lease_seconds: float, progress: dict[str, Any] | None) -> bool:
        """Extend the lease and record progress; False when the job is no longer this worker's (the lease ran out
        and another worker took it)."""
        p, now = self.p, time.time()
        cur = conn.execute(f"UPDATE job_queue SET lease_until = {p}, progress = {p}, updated_at = {p}"
                           f" WHERE job_id = {p} AND worker = {p} AND state = 'running'",
                           (now + lease_seconds, json.dumps(progress) if progress else None, now, str(job_id), worker))
        conn.commit()
        return bool(cur.rowcount)

    def finish(self, conn: Any, job_id: UUID) -> None:
        """The job has its outcome in the ledger: nobody needs to claim it again."""
        conn.execute(f"UPDATE job_queue SET state = 'done', lease_until = NULL, updated_at = {self.p} WHERE job_id = {self.p}",
                     (time.time(), str(job_id)))
        conn.commit()


def progress_of(db: Database, conn: Any, job_id: str) -> dict[str, Any] | None:
    """The live progress a worker last reported for a job (None when none is running it)."""
    return live_progress(db, conn, [job_id]).get(job_id)


def live_progress(db: Database, conn: Any, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The live progress of those of `job_ids` that a worker is running and has reported on."""
    if not job_ids:
        return {}
    p = db.param()
    rows = conn.execute(f"SELECT job_id, lease_until, progress FROM job_queue WHERE state = 'running' AND progress IS NOT NULL"
                        f" AND job_id IN ({', '.join([p] * len(job_ids))})", tuple(job_ids)).fetchall()
    conn.rollback()
    now = time.time()
    return {job_id: {**json.loads(progress), "lease_expired": lease is not None and lease < now}
            for job_id, lease, progress in rows}
