"""What every job worker shares: claim a requested job, run it under a lease with a heartbeat, record its one outcome.

A worker discovers requests in the ledger, claims the oldest under a lease (ledger.jobs), records the attempt's
start, and does the work (a subclass's `work`). While it works, a heartbeat renews the lease and reports progress; it
stops the work when the job is cancelled or the lease is lost. The outcome — the completion the work returns, or the
failure and its reason — is appended under the job's optimistic concurrency, so a job ends once however many workers
race. A worker killed mid-work leaves a lease that runs out; another worker then starts the next attempt. A job that
cannot be done fails with its reason and the worker goes on; a database fault is retried by the worker loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.application import Governance, Recorded
from domain.errors import Conflict, DomainError, IllegalTransition
from domain.jobs import FINAL, JobLifecycle, JobState
from ledger.artifacts import LocalArtifactStore
from ledger.database import Database
from ledger.errors import LedgerError
from ledger.health import TRANSIENT, Heartbeat, reason
from ledger.jobs import JobQueue
from ml.errors import MLError, TrainingCancelled

log = logging.getLogger("govledger.workers")
COMPLETION_TRIES = 3
#: Attempts a job gets: a worker killed mid-way is replaced, but not for ever.
MAX_ATTEMPTS = 3
#: The longest reason a failure records (domain.jobs.JobLifecycle.fail).
MAX_REASON = 2_000
#: The longest a running job's heartbeat waits between two looks for a cancellation.
CANCEL_CHECK_S = 1.0


def worker_name() -> str:
    """Unique per worker: a restarted process on the same host is another worker."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerSettings:
    lease_seconds: float = 30.0
    max_dataset_bytes: int = 512 * 1024 * 1024
    dask_scheduler: str | None = None
    cv_folds: int = 5
    name: str = field(default_factory=worker_name)


#: What a job's work hands back: a function that records its completion (and answers what it recorded).
Completion = Callable[[], Recorded]


class Watch:
    """The heartbeat of one running job: renews its lease with the latest progress, and notices a cancellation or a
    lost lease, which stop the work at its next check."""

    def __init__(self, worker: JobWorker, job_id: UUID) -> None:
        self.worker, self.job_id = worker, job_id
        self.progress: dict[str, Any] | None = None
        self.stopped = threading.Event()
        self.why: str | None = None  # "cancelled" | "lost"
        self.thread = threading.Thread(target=self._run, name=f"lease {job_id}", daemon=True)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def should_stop(self) -> bool:
        return self.why is not None

    def report(self, progress: dict[str, Any]) -> None:
        self.progress = progress

    def _run(self) -> None:
        w = self.worker
        # Every third of the lease, and at least every second: a requester who cancels expects the job to stop in
        # seconds, not in the 10 s a 30 s lease's third would take (one UPDATE and one read of the job a second).
        every = max(min(w.settings.lease_seconds / 3, CANCEL_CHECK_S), 0.2)
        conn = None
        try:
            while not self.stopped.wait(every):
                try:
                    if conn is None:
                        conn = w.db.open()
                    if not w.queue.renew(conn, self.job_id, w.settings.name, w.settings.lease_seconds, self.progress):
                        self.why = "lost"
                        return
                    if w.job(self.job_id).state is JobState.CANCELLED:
                        self.why = "cancelled"
                        return
                    w.health.beat("running", None)
                except TRANSIENT as e:  # the lease may run out meanwhile: the ledger still lets one outcome through
                    log.warning("lease of %s not renewed: %s", self.job_id, reason(e))
                    # A terminated PostgreSQL session (a restart, pg_terminate_backend) never comes back, and rolling
                    # it back raises again: this thread died with a traceback, the lease was never renewed, progress
                    # froze and a cancellation went unnoticed until the budget ran out. Reconnect at the next beat.
                    _close_quietly(conn)
                    conn = None
        finally:
            _close_quietly(conn)
            # The status connection was opened by this thread: a SQLite connection refuses every other thread, so the
            # next job's heartbeat died with ProgrammingError at its first status write (lease never renewed again,
            # cancellation unnoticed). Close it here; the next heartbeat opens its own.
            w.health.close()


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection may refuse even to close; it is dropped either way
            pass


class JobWorker:
    """Runs one kind of job, one at a time, for as long as it is stepped. A subclass names its `kind` (the queue and
    the worker's health name), the `topic` of its requests, and does the work."""

    kind = "job"
    topic = ""

    def __init__(self, app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings) -> None:
        self.app, self.db, self.artifacts, self.settings = app, db, artifacts, settings
        self.queue = JobQueue(db, self.kind, self.topic)
        self.health = Heartbeat(db, self.health_name)

    health_name = "worker"

    # -- what each kind of job does -------------------------------------------------------------------

    def job(self, job_id: UUID) -> JobLifecycle:
        raise NotImplementedError

    def record_start(self, job_id: UUID, worker: str, attempt: int) -> JobLifecycle:
        raise NotImplementedError

    def record_failure(self, job_id: UUID, worker: str, attempt: int, code: str, reason: str) -> None:
        raise NotImplementedError

    def work(self, job: Any, attempt: int, watch: Watch) -> Completion:
        raise NotImplementedError

    # -- the one way every job runs --------------------------------------------------------------------

    def step(self) -> tuple[int | None, bool]:
        """Queue new requests and run the oldest waiting job; (None, whether one ran: more may be waiting)."""
        with self.db.connect() as conn:
            self.queue.discover(conn)
            claim = self.queue.claim(conn, self.settings.name, self.settings.lease_seconds)
        if claim is None:
            return None, False
        self.run(claim.job_id)
        if self.job(claim.job_id).state in FINAL:
            # A new session: one left idle through the whole work may have been ended meanwhile (a restart).
            with self.db.connect() as conn:
                self.queue.finish(conn, claim.job_id)
        return None, True

    def run(self, job_id: UUID) -> None:
        job = self.job(job_id)
        if job.state in FINAL:
            return
        attempt = job.attempt + 1
        try:
            job = self.record_start(job_id, self.settings.name, attempt)
        except (Conflict, IllegalTransition) as e:  # another worker started it first, or it was cancelled
            log.info("%s %s not started here: %s", job.what, job_id, e)
            return
        if attempt > MAX_ATTEMPTS:
            # Every earlier attempt ended without an outcome: its worker died (killed, out of memory, its host lost).
            # A job that takes down each worker that runs it would otherwise be claimed for ever.
            self.fail(job_id, attempt, "too_many_attempts", f"{attempt - 1} attempts ended without an outcome (each "
                      "worker stopped or lost its lease mid-way); the job is not tried again")
            return
        log.info("%s %s: attempt %d on %s", job.what, job_id, attempt, self.settings.name)
        with Watch(self, job_id) as watch:
            try:
                complete = self.work(job, attempt, watch)
            except TrainingCancelled:
                log.info("%s %s stopped: %s", job.what, job_id, watch.why or "cancelled")
                return
            except (MLError, DomainError, LedgerError) as e:
                self.fail(job_id, attempt, e.code, e.message)
                return
            except TRANSIENT:
                raise  # the database went away: the lease runs out and this or another worker tries again
            except Exception as e:  # a bug, or a library's surprise: the job fails with it, the worker goes on
                log.exception("%s %s failed", job.what, job_id)
                self.fail(job_id, attempt, f"{self.kind}_error", f"{type(e).__name__}: {e}")
                return
        self.complete(job_id, attempt, complete)

    def complete(self, job_id: UUID, attempt: int, complete: Completion) -> None:
        for _ in range(COMPLETION_TRIES):  # a conflict on another aggregate (a model that gained a version) is retried
            try:
                recorded = complete()
            except IllegalTransition as e:  # cancelled, or taken over after the lease ran out: not ours to end
                log.info("%s %s ended elsewhere: %s", self.kind, job_id, e)
                return
            except Conflict:
                continue
            except (DomainError, LedgerError) as e:  # the result cannot be recorded (too large for an event, say)
                self.fail(job_id, attempt, e.code, e.message)
                return
            log.info("%s %s completed at position %s", self.kind, job_id, recorded.position)
            return
        self.fail(job_id, attempt, "conflict", "what the job changes kept changing while its outcome was recorded")

    def fail(self, job_id: UUID, attempt: int, code: str, message: str) -> None:
        # The reason is any exception's text: one longer than a failure's reason may be (2,000 characters) or holding
        # a NUL made recording the failure raise InvalidInput, which stopped the worker, and the job, left running,
        # stopped the next worker to claim it too. Record what fits instead.
        message = message.replace("\x00", "\\x00")
        if len(message) > MAX_REASON:
            message = message[:MAX_REASON - 1] + "…"
        try:
            self.record_failure(job_id, self.settings.name, attempt, code, message)
            log.info("%s %s failed [%s]: %s", self.kind, job_id, code, message)
        except (Conflict, IllegalTransition) as e:
            log.info("%s %s ended elsewhere: %s", self.kind, job_id, e)
