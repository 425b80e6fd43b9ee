"""The batch worker: a version scored on a dataset, with the reports the approval gate relies on.

The version's artifact is loaded only after its bytes match the ledger's hash; the dataset is its snapshot, checked
against the hash the run names; drift is measured against the rows the version was trained on when their snapshot is
kept, else against the summaries the version recorded. Each report is stored under its SHA-256, and the completion
records their hashes and the summary on the run and on the version (workers.jobs runs it like every job).
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pandas as pd

from domain.application import Governance
from domain.batch import BatchRun
from domain.models import ModelVersion
from ledger.artifacts import LocalArtifactStore, load_model
from ledger.database import Database
from ml.batch import run_batch
from ml.batch_spec import BatchSpec, Thresholds
from ml.tabular import read_csv

from .jobs import Completion, JobWorker, Watch, WorkerSettings
from .loop import supervise

TOPIC = "domain.batch:BatchRun.Requested"


def performance_metrics(summary: dict[str, Any], rows: int) -> dict[str, float]:
    """The figures the version's record of the run keeps: the performance summary's numbers (the confusion matrix
    and calibration stay in the report), or the row count when no label was given."""
    performance = summary.get("performance") or {}
    figures = {k: float(v) for k, v in performance.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return figures or {"rows": float(rows)}


class BatchRunner(JobWorker):
    """Runs batch runs, one at a time, for as long as it is stepped."""

    kind, topic, health_name = "batch_inference", TOPIC, "batch worker"

    def job(self, job_id: UUID) -> BatchRun:
        return self.app.batch_run(job_id)

    def record_start(self, job_id: UUID, worker: str, attempt: int) -> BatchRun:
        return self.app.start_batch_run(job_id, worker=worker, attempt=attempt, lease_seconds=self.settings.lease_seconds)

    def record_failure(self, job_id: UUID, worker: str, attempt: int, code: str, reason: str) -> None:
        self.app.fail_batch_run(job_id, worker=worker, attempt=attempt, code=code, reason=reason)

    def _frame(self, digest: str) -> pd.DataFrame:
        with self.artifacts.verified_copy(digest) as path:  # the bytes the ledger names, or nothing
            return read_csv(path, max_bytes=self.settings.max_dataset_bytes)

    def _reference(self, version: ModelVersion) -> pd.DataFrame | None:
        """The rows the version was trained on, when their snapshot is kept (an imported version may have none)."""
        for dataset_id in version.dataset_ids:
            dataset = self.app.get_dataset(dataset_id)
            if dataset.snapshot and set(version.input_schema) <= set(dataset.schema):
                return self._frame(dataset.content_hash)[list(version.input_schema)]
        return None

    def work(self, run: BatchRun, attempt: int, watch: Watch) -> Completion:
        version: ModelVersion = self.app.repository.get(run.version_id)
        pipeline = load_model(self.artifacts, version.artifact_hash)  # only after its bytes match the ledger
        classes = version.classes if version.classes is not None else _classes(pipeline)
        task = version.task or ("classification" if classes is not None else "regression")
        spec = BatchSpec(task=task, features=list(version.input_schema), input_schema=dict(version.input_schema),
                         label_column=run.label_column, protected_attributes=tuple(run.protected_attributes),
                         classes=classes, thresholds=Thresholds(**run.thresholds), favourable=run.favourable_outcome)
        frame = self._frame(run.dataset_hash)
        result = run_batch(pipeline, frame, spec, reference=self._reference(version), baseline=version.baseline,
                           progress=lambda fraction, rows: watch.report({"fraction": fraction, "rows_scored": rows}),
                           should_stop=watch.should_stop)
        hashes = {name: self.artifacts.put(body) for name, body in result.reports.items()}
        drift = result.summary.get("drift") or {}
        return lambda: self.app.complete_batch_run(
            run.id, worker=self.settings.name, attempt=attempt, report_hashes=hashes, rows=result.rows,
            summary=result.summary, metrics=performance_metrics(result.summary, result.rows),
            drift_share=float(drift.get("share_drifted", 0.0)), drift_detected=result.drift_detected,
            fairness_breach=result.fairness_breach)


def _classes(pipeline: Any) -> list[Any] | None:
    found = getattr(pipeline, "classes_", None)
    return None if found is None else [c.item() if hasattr(c, "item") else c for c in found]


def run_batch_worker(app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings, *,
                     interval: float, stop: threading.Event) -> None:
    """Run batch runs until `stop` is set; database faults are retried by the worker loop."""
    supervise("batch worker", db, BatchRunner(app, db, artifacts, settings).step, interval=interval, stop=stop)
