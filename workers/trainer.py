"""The training worker: AutoML (ml.automl) on a dataset's snapshot, checked against the hash the ledger holds, under
the job's time budget; the completion records the new version (workers.jobs runs it like every job)."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from domain.application import Governance
from domain.training import TrainingJob
from ledger.artifacts import LocalArtifactStore, dump_model
from ledger.database import Database
from ml.automl import Preprocessing, Progress, TrainingSpec, train
from ml.compute import compute_backend
from ml.tabular import read_csv

from .jobs import Completion, JobWorker, Watch, WorkerSettings
from .loop import supervise

TOPIC = "domain.training:TrainingJob.Requested"
#: Training workers take the same settings as every job worker.
TrainerSettings = WorkerSettings


def progress_of(progress: Progress) -> dict[str, Any]:
    return {"fraction": progress.fraction, "candidates": progress.candidates, "best_score": progress.best_score,
            "best_family": progress.best_family, "elapsed_seconds": round(progress.elapsed_seconds, 3),
            "remaining_seconds": round(progress.remaining_seconds, 3)}


class Trainer(JobWorker):
    """Runs training jobs, one at a time, for as long as it is stepped."""

    kind, topic, health_name = "training", TOPIC, "trainer"

    def job(self, job_id: UUID) -> TrainingJob:
        return self.app.training_job(job_id)

    def record_start(self, job_id: UUID, worker: str, attempt: int) -> TrainingJob:
        return self.app.start_training(job_id, worker=worker, attempt=attempt, lease_seconds=self.settings.lease_seconds)

    def record_failure(self, job_id: UUID, worker: str, attempt: int, code: str, reason: str) -> None:
        self.app.fail_training(job_id, worker=worker, attempt=attempt, code=code, reason=reason)

    def work(self, job: TrainingJob, attempt: int, watch: Watch) -> Completion:
        started = time.monotonic()
        dataset = self.app.get_dataset(job.dataset_id)
        spec = TrainingSpec(
            task=job.task, target=job.target, time_budget_seconds=job.time_budget_seconds, metric=job.metric,
            exclude=tuple(job.exclude), protected_attributes=tuple(job.protected_attributes),
            preprocessing=Preprocessing(**job.preprocessing), cv_folds=self.settings.cv_folds,
            n_jobs=-1 if self.settings.dask_scheduler else 1)
        with self.artifacts.verified_copy(job.dataset_hash) as path:  # the bytes the ledger names, or nothing
            frame = read_csv(path, max_bytes=self.settings.max_dataset_bytes)
        with compute_backend(self.settings.dask_scheduler):
            result = train(frame, dataset.schema, spec, progress=lambda p: watch.report(progress_of(p)),
                           should_stop=watch.should_stop)
        digest = self.artifacts.put(dump_model(result.pipeline))
        trained = {"estimator": type(result.pipeline.steps[-1][1]).__name__, "family": result.family,
                   "params": result.params, "metric": result.metric, "cv_mean": result.cv_mean, "cv_std": result.cv_std,
                   "leaderboard": result.leaderboard, "metrics": result.metrics, "candidates": result.candidates,
                   "greater_is_better": result.greater_is_better, "input_schema": result.input_schema,
                   "feature_domains": result.feature_domains, "baseline": result.baseline, "classes": result.classes,
                   "seconds": round(time.monotonic() - started, 3)}
        return lambda: self.app.complete_training(job.id, worker=self.settings.name, attempt=attempt,
                                                  artifact_hash=digest, trained=trained)


def run_trainer(app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings, *,
                interval: float, stop: threading.Event) -> None:
    """Run training jobs until `stop` is set; database faults are retried by the worker loop."""
    supervise("trainer", db, Trainer(app, db, artifacts, settings).step, interval=interval, stop=stop)
