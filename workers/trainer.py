"""The training worker: claim a requested job, train under its time budget, record its one outcome.

The worker discovers requests in the ledger, claims the oldest under a lease (ledger.jobs), records the attempt's
start, and trains (ml.automl) on the dataset's snapshot, checked against the hash the ledger holds. While it trains,
a heartbeat renews the lease and reports progress; it stops the training when the job is cancelled or the lease is
lost. The outcome — the completed job with its new version, or the failure and its reason — is appended under the
job's optimistic concurrency, so a job ends once however many workers race. A worker killed mid-training leaves a
lease that runs out; another worker then starts the next attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.application import Governance
from domain.errors import Conflict, DomainError, IllegalTransition
from domain.training import FINAL, JobState, TrainingJob
from ledger.artifacts import LocalArtifactStore, dump_model
from ledger.database import Database
from ledger.errors import LedgerError
from ledger.health import TRANSIENT, Heartbeat, reason
from ledger.jobs import JobQueue
from ml.automl import Preprocessing, Progress, TrainingSpec, train
from ml.compute import compute_backend
from ml.errors import MLError, TrainingCancelled
from ml.tabular import read_csv

from .loop import supervise

log = logging.getLogger("govledger.trainer")
TOPIC = "domain.training:TrainingJob.Requested"
COMPLETION_TRIES = 3
#: The longest a running job's heartbeat waits between two looks for a cancellation.
CANCEL_CHECK_S = 1.0


def worker_name() -> str:
    """Unique per worker: a restarted process on the same host is another worker."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TrainerSettings:
    lease_seconds: float = 30.0
    max_dataset_bytes: int = 512 * 1024 * 1024
    dask_scheduler: str | None = None
    cv_folds: int = 5
    name: str = field(default_factory=worker_name)


class _Watch:
    """The heartbeat of one running job: renews its lease with the latest progress, and notices a cancellation or a
    lost lease, which stop the training at its next check."""

    def __init__(self, trainer: Trainer, job_id: UUID) -> None:
        self.trainer, self.job_id = trainer, job_id
        self.progress: dict[str, Any] | None = None
        self.stopped = threading.Event()
        self.why: str | None = None  # "cancelled" | "lost"
        self.thread = threading.Thread(target=self._run, name=f"lease {job_id}", daemon=True)

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def should_stop(self) -> bool:
        return self.why is not None

    def report(self, progress: Progress) -> None:
        self.progress = {"fraction": progress.fraction, "candidates": progress.candidates,
                         "best_score": progress.best_score, "best_family": progress.best_family,
                         "elapsed_seconds": round(progress.elapsed_seconds, 3),
                         "remaining_seconds": round(progress.remaining_seconds, 3)}

    def _run(self) -> None:
        t = self.trainer
        # Every third of the lease, and at least every second: a requester who cancels expects the job to stop in
        # seconds, not in the 10 s a 30 s lease's third would take (one UPDATE and one read of the job a second).
        every = max(min(t.settings.lease_seconds / 3, CANCEL_CHECK_S), 0.2)
        conn = None
        try:
            while not self.stopped.wait(every):
                try:
                    if conn is None:
                        conn = t.db.open()
                    if not t.queue.renew(conn, self.job_id, t.settings.name, t.settings.lease_seconds, self.progress):
                        self.why = "lost"
                        return
                    if t.app.training_job(self.job_id).state is JobState.CANCELLED:
                        self.why = "cancelled"
                        return
                    t.health.beat("running", None)
                except TRANSIENT as e:  # the lease may run out meanwhile: the ledger still lets one outcome through
                    log.warning("lease of %s not renewed: %s", self.job_id, reason(e))
                    # A terminated PostgreSQL session (a restart, pg_terminate_backend) never comes back, and rolling
                    # it back raises again: this thread died with a traceback, the lease was never renewed, progress
                    # froze and a cancellation went unnoticed until the budget ran out. Reconnect at the next beat.
                    _close_quietly(conn)
                    conn = None
        finally:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection may refuse even to close; it is dropped either way
            pass


class Trainer:
    """Runs training jobs, one at a time, for as long as it is stepped."""

    def __init__(self, app: Governance, db: Database, artifacts: LocalArtifactStore, settings: TrainerSettings) -> None:
        self.app, self.db, self.artifacts, self.settings = app, db, artifacts, settings
        self.queue = JobQueue(db, "training", TOPIC)
        self.health = Heartbeat(db, "trainer")

    def step(self) -> tuple[int | None, bool]:
        """Queue new requests and run the oldest waiting job; (None, whether one ran: more may be waiting)."""
        with self.db.connect() as conn:
            self.queue.discover(conn)
            claim = self.queue.claim(conn, self.settings.name, self.settings.lease_seconds)
        if claim is None:
            return None, False
        self.run(claim.job_id)
        if self.app.training_job(claim.job_id).state in FINAL:
            # A new session: one left idle through the whole training may have been ended meanwhile (a restart).
            with self.db.connect() as conn:
                self.queue.finish(conn, claim.job_id)
        return None, True

    def run(self, job_id: UUID) -> None:
        job = self.app.training_job(job_id)
        if job.state in FINAL:
            return
        attempt, name = job.attempt + 1, self.settings.name
        try:
            job = self.app.start_training(job_id, worker=name, attempt=attempt, lease_seconds=self.settings.lease_seconds)
        except (Conflict, IllegalTransition) as e:  # another worker started it first, or it was cancelled
            log.info("training job %s not started here: %s", job_id, e)
            return
        log.info("training job %s: attempt %d on %s", job_id, attempt, name)
        started = time.monotonic()
        with _Watch(self, job_id) as watch:
            try:
                trained, digest = self._train(job, watch)
            except TrainingCancelled:
                log.info("training job %s stopped: %s", job_id, watch.why or "cancelled")
                return
            except (MLError, DomainError, LedgerError) as e:
                self._fail(job_id, attempt, e.code, e.message)
                return
            except TRANSIENT:
                raise  # the database went away: the lease runs out and this or another worker tries again
            except Exception as e:  # a bug, or a library's surprise: the job fails with it, the worker goes on
                log.exception("training job %s failed", job_id)
                self._fail(job_id, attempt, "training_error", f"{type(e).__name__}: {e}")
                return
        trained["seconds"] = round(time.monotonic() - started, 3)
        self._complete(job_id, attempt, digest, trained)

    def _train(self, job: TrainingJob, watch: _Watch) -> tuple[dict[str, Any], str]:
        dataset = self.app.get_dataset(job.dataset_id)
        spec = TrainingSpec(
            task=job.task, target=job.target, time_budget_seconds=job.time_budget_seconds, metric=job.metric,
            exclude=tuple(job.exclude), protected_attributes=tuple(job.protected_attributes),
            preprocessing=Preprocessing(**job.preprocessing), cv_folds=self.settings.cv_folds,
            n_jobs=-1 if self.settings.dask_scheduler else 1)
        with self.artifacts.verified_copy(job.dataset_hash) as path:  # the bytes the ledger names, or nothing
            frame = read_csv(path, max_bytes=self.settings.max_dataset_bytes)
        with compute_backend(self.settings.dask_scheduler):
            result = train(frame, dataset.schema, spec, progress=watch.report, should_stop=watch.should_stop)
        digest = self.artifacts.put(dump_model(result.pipeline))
        return {"estimator": type(result.pipeline.steps[-1][1]).__name__, "family": result.family,
                "params": result.params, "metric": result.metric, "cv_mean": result.cv_mean, "cv_std": result.cv_std,
                "leaderboard": result.leaderboard, "metrics": result.metrics, "candidates": result.candidates,
                "greater_is_better": result.greater_is_better,
                "input_schema": result.input_schema, "feature_domains": result.feature_domains,
                "baseline": result.baseline, "classes": result.classes}, digest

    def _complete(self, job_id: UUID, attempt: int, digest: str, trained: dict[str, Any]) -> None:
        for _ in range(COMPLETION_TRIES):  # a conflict on the model (another job added a version) is tried again
            try:
                recorded = self.app.complete_training(job_id, worker=self.settings.name, attempt=attempt,
                                                      artifact_hash=digest, trained=trained)
            except IllegalTransition as e:  # cancelled, or taken over after the lease ran out: not ours to end
                log.info("training job %s ended elsewhere: %s", job_id, e)
                return
            except Conflict:
                continue
            except (DomainError, LedgerError) as e:  # the result cannot be recorded (too large for an event, say)
                self._fail(job_id, attempt, e.code, e.message)
                return
            log.info("training job %s completed: version %s at position %s", job_id, recorded.id, recorded.position)
            return
        self._fail(job_id, attempt, "conflict", "the model kept changing while the trained version was recorded")

    def _fail(self, job_id: UUID, attempt: int, code: str, message: str) -> None:
        try:
            self.app.fail_training(job_id, worker=self.settings.name, attempt=attempt, code=code, reason=message)
            log.info("training job %s failed [%s]: %s", job_id, code, message)
        except (Conflict, IllegalTransition) as e:
            log.info("training job %s ended elsewhere: %s", job_id, e)


def run_trainer(app: Governance, db: Database, artifacts: LocalArtifactStore, settings: TrainerSettings, *,
                interval: float, stop: threading.Event) -> None:
    """Run training jobs until `stop` is set; database faults are retried by the worker loop."""
    supervise("trainer", db, Trainer(app, db, artifacts, settings).step, interval=interval, stop=stop)
