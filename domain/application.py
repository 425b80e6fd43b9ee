"""The one governance application: every area's service in one eventsourcing Application, so one chain holds
every event. Each command is guarded (domain/services/guard.py): it decides who may act before anything is saved,
records a refusal as exactly one AccessDenied, checks every field it records, and returns what it recorded.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from .batch import BatchRun
from .deployments import Deployment, Termination
from .errors import NotFound
from .jobs import JobLifecycle
from .roles import Actor
from .services.batch import BatchRuns
from .services.compliance import Compliance
from .services.deployments import Deployments
from .services.guard import Recorded
from .services.lifecycle import ArtifactStore, Lifecycle
from .services.people import People, Vault
from .services.predictions import Predictions
from .services.routing import Routing
from .services.sources import CredentialStore, Sources
from .services.training import Training
from .training import TrainingJob

__all__ = ["ArtifactStore", "Governance", "Recorded", "Vault"]


class Governance(People, Lifecycle, Compliance, Training, BatchRuns, Deployments, Routing, Predictions, Sources):
    """Users and keys, the model lifecycle, compliance, training, batch runs, deployments, routing and data
    connections, in one application."""

    name = "Ledger"

    def __init__(self, *args: Any, artifacts: ArtifactStore | None = None, vault: Vault | None = None,
                 credentials: CredentialStore | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.artifacts = artifacts
        self.vault = vault
        self.credentials = credentials

    def job_kind(self, job_id: UUID) -> type[JobLifecycle]:
        """The kind of job an id names (training, batch run, deployment, termination), read without a role check:
        the guarded read or command that follows makes it."""
        try:
            found = self.repository.get(job_id)
        except AggregateNotFoundError:
            raise NotFound(f"no job {job_id}") from None
        if not isinstance(found, (TrainingJob, BatchRun, Deployment, Termination)):
            raise NotFound(f"no job {job_id}")
        return type(found)

    def get_job(self, actor: Actor, job_id: UUID) -> Any:
        """Any job, for a reader of its model (data scientists: their own); a refused read is recorded."""
        read = {TrainingJob: self.get_training_job, BatchRun: self.get_batch_run, Deployment: self.get_deployment,
                Termination: self.get_termination}
        return read[self.job_kind(job_id)](actor, job_id)

    def cancel_job(self, actor: Actor, job_id: UUID, *, reason: str = "", idempotency_key: str | None = None) -> Recorded:
        """Cancel any job by its kind's own command, so the refusal (if any) names the action the caller meant."""
        kind = self.job_kind(job_id)
        cancel = self.cancel_training if kind is TrainingJob else (
            self.cancel_batch_run if kind is BatchRun else self.cancel_deployment)
        return cancel(actor, job_id, reason=reason, idempotency_key=idempotency_key)
