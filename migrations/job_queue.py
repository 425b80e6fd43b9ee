"""The job queue: which worker runs which job, until when its lease holds, and how far it has got.

The ledger records each job's milestones (requested, started, completed, failed, cancelled); this table holds what
changes by the second and needs no proof: the lease a worker renews while it works, and its progress. It is not a
read model (a rebuild leaves it alone); losing it loses no history, only the progress shown for running jobs.
"""

from __future__ import annotations

from typing import Any

from yoyo import step


def steps(big: str, *, grant_to: str | None = None) -> list[Any]:
    out = [
        step(f"CREATE TABLE job_queue (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, position {big} NOT NULL,"
             " state TEXT NOT NULL, worker TEXT, lease_until DOUBLE PRECISION,"
             " progress TEXT, updated_at DOUBLE PRECISION NOT NULL)", "DROP TABLE job_queue"),
        step("CREATE INDEX job_queue_waiting ON job_queue (kind, state, position)", "DROP INDEX job_queue_waiting"),
        # How far the ledger has been searched for each kind's requests, so a poll reads only what is new.
        step(f"CREATE TABLE job_discovery (kind TEXT PRIMARY KEY, scanned {big} NOT NULL)", "DROP TABLE job_discovery"),
    ]
    if grant_to is not None:
        out.append(step(f"GRANT SELECT, INSERT, UPDATE ON job_queue, job_discovery TO {grant_to}",
                        f"REVOKE ALL ON job_queue, job_discovery FROM {grant_to}"))
    return out
