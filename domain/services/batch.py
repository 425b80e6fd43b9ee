"""Batch runs: managers and owning data scientists request them; batch workers record each run's milestones.

The request is checked against the version and the dataset before anything is recorded. The completion is saved with
the version's record of it (the version becomes validated) in one transaction, so the approval gate sees a run only
once govledger has computed it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..batch import BatchRun, check_inputs, favourable_class
from ..datasets import Dataset
from ..errors import IllegalTransition, InvalidInput, PreconditionFailed
from ..models import Model, ModelVersion, Status
from ..roles import Action, Actor, check_can_read, check_owns
from .guard import Pending, Recorded, Service, command, pending, query

#: Where a version may be in its lifecycle for a run to be recorded on it.
RUNNABLE = (Status.STAGED, Status.VALIDATED)


class BatchRuns(Service):
    """Batch inference runs, from request to their one outcome."""

    def batch_run(self, run_id: UUID) -> BatchRun:
        return self._get(run_id, BatchRun, "batch run")

    @command(Action.RUN_BATCH_INFERENCE, "model_version", "version_id")
    def request_batch_run(self, actor: Actor, version_id: UUID, *, dataset_id: UUID, label_column: str | None = None,
                          protected_attributes: list[str] | None = None, favourable_outcome: Any = None) -> Pending:
        """Queue a run of a staged or validated version on a dataset whose bytes the artifact store keeps."""
        version = self._get(version_id, ModelVersion, "model version")
        model = self._get(version.model_id, Model, "model")
        check_owns(actor, model.owner)
        if version.status not in RUNNABLE:
            raise IllegalTransition(f"version {version.number} is {version.status}; a batch run validates a staged or "
                                    "validated version")
        dataset = self._get(dataset_id, Dataset, "dataset")
        if not dataset.snapshot:
            raise InvalidInput(f"dataset {dataset.name!r} was registered by its hash alone; its data is not in the "
                               "artifact store, so nothing can be scored on it (ingest the file instead)")
        label, protected = check_inputs(features=version.input_schema, dataset_schema=dataset.schema,
                                        label_column=label_column, protected=protected_attributes,
                                        profile=dataset.profile)
        run = BatchRun(version.id, model.id, dataset.id, dataset.content_hash, label, protected, model.config.thresholds,
                       actor.user_id, actor.username, favourable_class(version.classes, favourable_outcome))
        return pending(run, id=run.id)

    @command(Action.RUN_BATCH_INFERENCE, "batch_run", "run_id")
    def cancel_batch_run(self, actor: Actor, run_id: UUID, *, reason: str = "") -> Pending:
        run = self.batch_run(run_id)
        run.cancel(by=actor.user_id, by_name=actor.username, reason=reason)
        return pending(run, id=run.id)

    @query(Action.READ, "batch_run", "run_id")
    def get_batch_run(self, actor: Actor, run_id: UUID) -> BatchRun:
        """A run, for any reader of its model (data scientists: their own models)."""
        run = self.batch_run(run_id)
        check_can_read(actor, self._get(run.model_id, Model, "model").owner)
        return run

    # -- the worker's milestones ------------------------------------------------------------------------

    def start_batch_run(self, run_id: UUID, *, worker: str, attempt: int, lease_seconds: float) -> BatchRun:
        run = self.batch_run(run_id)
        run.start(worker=worker, attempt=attempt, lease_seconds=lease_seconds)
        self._save([run], None)
        return run

    def fail_batch_run(self, run_id: UUID, *, worker: str, attempt: int, code: str, reason: str) -> int | None:
        run = self.batch_run(run_id)
        run.fail(worker=worker, attempt=attempt, code=code, reason=reason)
        return self._save([run], None)

    def complete_batch_run(self, run_id: UUID, *, worker: str, attempt: int, report_hashes: dict[str, str], rows: int,
                           summary: dict[str, Any], metrics: dict[str, float], drift_share: float, drift_detected: bool,
                           fairness_breach: bool) -> Recorded:
        """The run's completion and the version's record of it, in one save: the version becomes validated."""
        run = self.batch_run(run_id)
        run.complete(worker=worker, attempt=attempt, report_hashes=report_hashes, rows=rows, summary=summary,
                     drift_detected=drift_detected, fairness_breach=fairness_breach)
        version = self._get(run.version_id, ModelVersion, "model version")
        if version.status not in RUNNABLE:
            # Reviewed (or retired) while the run was queued or running. Not an IllegalTransition, which the worker
            # reads as "ended elsewhere" and leaves the run running, to be claimed and recomputed after every lease:
            # a PreconditionFailed ends it failed, with the reason.
            raise PreconditionFailed(f"version {version.number} was {version.status} while this run was in flight; "
                                     "a run is recorded only on a staged or validated version")
        version.record_batch_run(run_id=str(run.id), rows=rows, metrics=metrics or {"rows": float(rows)},
                                 report_hashes=report_hashes, drift_share=drift_share, drift_detected=drift_detected,
                                 fairness_breach=fairness_breach, by=run.requested_by)
        return Recorded(self._save([run, version], None), run.id)

