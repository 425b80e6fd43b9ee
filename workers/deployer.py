"""The deploy workers: provision a requested deployment on its target, and release a terminated one.

Provisioning hands the target a verified copy of the version's artifact (its bytes match the ledger's hash, or
nothing is deployed) and records what the target created. Targets are idempotent per deployment (idempotency tokens,
then reconciliation by the deployment's tag), so an attempt that takes over from a worker killed mid-way adopts what
that worker created instead of creating it twice. Whatever ends a deployment without recording it as serving —
a failure, a cancellation, the version retired meanwhile, its attempts exhausted — releases everything tagged for
it before the outcome is recorded; only a lost lease does not, since the attempt that took over owns those resources
now. Releasing is a Termination job of its own, run by the same kind of worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from uuid import UUID

from domain.application import Governance
from domain.deployments import Deployment, Termination
from domain.jobs import JobState
from ledger.artifacts import LocalArtifactStore
from ledger.database import Database
from ledger.errors import LedgerError

from .jobs import Completion, JobWorker, Watch, WorkerSettings
from .loop import supervise
from .targets import DeploymentSpec, Target

log = logging.getLogger("govledger.workers")
REQUESTED = "domain.deployments:Deployment.Requested"
TERMINATION = "domain.deployments:Termination.Requested"

#: The target a deployment names, made on demand (AWS targets need their settings only when used).
Targets = Callable[[str], Target]


class Deployer(JobWorker):
    """Provisions deployments, one at a time, for as long as it is stepped."""

    kind, topic, health_name = "deployment", REQUESTED, "deployer"

    def __init__(self, app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings,
                 targets: Targets) -> None:
        super().__init__(app, db, artifacts, settings)
        self.targets = targets

    def job(self, job_id: UUID) -> Deployment:
        return self.app.deployment(job_id)

    def record_start(self, job_id: UUID, worker: str, attempt: int) -> Deployment:
        return self.app.start_deployment(job_id, worker=worker, attempt=attempt, lease_seconds=self.settings.lease_seconds)

    def record_failure(self, job_id: UUID, worker: str, attempt: int, code: str, reason: str) -> None:
        self.app.fail_deployment(job_id, worker=worker, attempt=attempt, code=code, reason=reason)

    def work(self, deployment: Deployment, attempt: int, watch: Watch) -> Completion:
        self.app.repository.get(deployment.version_id).check_deployable()  # retired meanwhile: nothing is created
        target = self.targets(deployment.target)
        with self.artifacts.verified_copy(deployment.artifact_hash) as path:  # the bytes the ledger names, or nothing
            spec = DeploymentSpec(deployment_id=deployment.id, version_id=deployment.version_id,
                                  model_id=deployment.model_id, artifact_hash=deployment.artifact_hash,
                                  size=deployment.size, artifact_path=path)
            # Only a cancellation stops the target (which then releases what it made); a lost lease does not, since
            # the attempt that took over adopts the same resources and would find them gone.
            provisioned = target.provision(spec, lambda fraction, stage: watch.report({"fraction": fraction, "stage": stage}),
                                           lambda: watch.why == "cancelled")
        return lambda: self.app.complete_deployment(deployment.id, worker=self.settings.name, attempt=attempt,
                                                    resources=provisioned.resources, endpoint=provisioned.endpoint)

    def complete(self, job_id: UUID, attempt: int, complete: Completion) -> None:
        super().complete(job_id, attempt, complete)
        if self.job(job_id).state is JobState.CANCELLED:  # cancelled while provisioning ended: nothing may stay up
            self._release(self.job(job_id))

    def fail(self, job_id: UUID, attempt: int, code: str, message: str) -> None:
        self._release_if_ours(job_id, attempt)
        super().fail(job_id, attempt, code, message)

    def _release_if_ours(self, job_id: UUID, attempt: int) -> None:
        deployment = self.job(job_id)
        taken_over = deployment.attempt != attempt or deployment.worker != self.settings.name
        if deployment.state is JobState.CANCELLED or (deployment.state is JobState.RUNNING and not taken_over):
            self._release(deployment)

    def _release(self, deployment: Deployment) -> None:
        try:
            released = self.targets(deployment.target).release(deployment.id)
        except LedgerError as e:  # the failure is still recorded; a termination retries the release by tag
            log.warning("deployment %s: release failed [%s]: %s", deployment.id, e.code, e.message)
            return
        if released:
            log.info("deployment %s: released %d resources", deployment.id, len(released))


class Terminator(JobWorker):
    """Releases terminated deployments' resources, one at a time."""

    kind, topic, health_name = "termination", TERMINATION, "terminator"

    def __init__(self, app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings,
                 targets: Targets) -> None:
        super().__init__(app, db, artifacts, settings)
        self.targets = targets

    def job(self, job_id: UUID) -> Termination:
        return self.app.termination(job_id)

    def record_start(self, job_id: UUID, worker: str, attempt: int) -> Termination:
        return self.app.start_termination(job_id, worker=worker, attempt=attempt, lease_seconds=self.settings.lease_seconds)

    def record_failure(self, job_id: UUID, worker: str, attempt: int, code: str, reason: str) -> None:
        self.app.fail_termination(job_id, worker=worker, attempt=attempt, code=code, reason=reason)

    def work(self, job: Termination, attempt: int, watch: Watch) -> Completion:
        watch.report({"fraction": 0.0, "stage": "releasing"})
        released = self.targets(job.target).release(job.deployment_id)
        return lambda: self.app.complete_termination(job.id, worker=self.settings.name, attempt=attempt,
                                                     released=released)


def run_deployer(app: Governance, db: Database, artifacts: LocalArtifactStore, settings: WorkerSettings,
                 targets: Targets, *, interval: float, stop: threading.Event) -> None:
    """Provision deployments and release terminated ones until `stop` is set."""
    deployer = Deployer(app, db, artifacts, settings, targets)
    terminator = Terminator(app, db, artifacts, settings, targets)

    def step() -> tuple[int | None, bool]:
        _, provisioned = deployer.step()
        _, released = terminator.step()
        return None, provisioned or released

    supervise("deployer", db, step, interval=interval, stop=stop)
