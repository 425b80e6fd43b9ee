"""Deployments: managers request and terminate them; deploy workers record provisioning and release.

Requests, cancellations and terminations are commands, guarded like every other (only managers deploy). The worker's
milestones are not a user's actions: the job's own rules decide (only the latest attempt's worker ends it). A
provisioned deployment is saved with the version's record of it in one transaction, and so is a release, so the
registry never shows a version served by a deployment that is not, or the other way round.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..deployments import Deployment, Termination, check_target
from ..errors import PreconditionFailed
from ..models import Model, ModelVersion, Status
from ..roles import Action, Actor, check_can_read
from ..routing import RoutingConfig
from .guard import Pending, Recorded, Service, command, pending, query


class Deployments(Service):
    """Deployments of approved versions, from request to termination."""

    def deployment(self, deployment_id: UUID) -> Deployment:
        return self._get(deployment_id, Deployment, "deployment")

    def termination(self, termination_id: UUID) -> Termination:
        return self._get(termination_id, Termination, "termination")

    @command(Action.DEPLOY, "model_version", "version_id")
    def request_deployment(self, actor: Actor, version_id: UUID, *, target: str = "local", size: str = "small") -> Pending:
        """Queue the provisioning of an approved version on a target, at a size; a deploy worker does it."""
        target, size = check_target(target, size)
        version = self._get(version_id, ModelVersion, "model version")
        version.check_deployable()
        deployment = Deployment(version.id, version.model_id, target, size, version.artifact_hash, actor.user_id,
                                actor.username)
        version.request_deployment(deployment.id, by=actor.user_id)
        return pending(deployment, version, id=deployment.id)

    @command(Action.DEPLOY, "deployment", "deployment_id")
    def cancel_deployment(self, actor: Actor, deployment_id: UUID, *, reason: str = "") -> Pending:
        """Stop a deployment still being provisioned (its requester only); the worker releases what it created."""
        job = self._get(deployment_id, (Deployment, Termination), "deployment")  # type: ignore[arg-type]
        job.cancel(by=actor.user_id, by_name=actor.username, reason=reason)  # a termination refuses
        return pending(job, *self._ended(job, f"cancelled: {reason}" if reason else "cancelled"), id=job.id)

    def _ended(self, deployment: Deployment, reason: str) -> list[ModelVersion]:
        """The version's record that one of its deployments ended (empty when the version holds no record of it)."""
        version = self._get(deployment.version_id, ModelVersion, "model version")
        version.end_deployment(deployment_id=deployment.id, by=deployment.requested_by, reason=reason)
        return [version] if version.pending_events else []

    @command(Action.DEPLOY, "deployment", "deployment_id")
    def terminate_deployment(self, actor: Actor, deployment_id: UUID, *, reason: str) -> Pending:
        """Stop serving at once and queue the release of every resource the target created. Refused while a routing
        config still sends traffic to the deployment."""
        deployment = self.deployment(deployment_id)
        names = {c: self._config_name(c) for c in deployment.routed_by}
        termination_id = deployment.request_termination(by=actor.user_id, by_name=actor.username, reason=reason,
                                                        routed_names=names)
        assert deployment.termination is not None
        job = Termination(deployment.id, deployment.terminations, deployment.version_id, deployment.model_id,
                          deployment.target, deployment.termination["reason"], actor.user_id, actor.username)
        assert job.id == termination_id
        return pending(deployment, job, id=termination_id)

    def _config_name(self, config_id: str) -> str:
        return self._get(UUID(config_id), RoutingConfig, "routing config").name

    @query(Action.READ, "deployment", "deployment_id")
    def get_deployment(self, actor: Actor, deployment_id: UUID) -> Deployment:
        deployment = self.deployment(deployment_id)
        check_can_read(actor, self._get(deployment.model_id, Model, "model").owner)
        return deployment

    @query(Action.READ, "termination", "termination_id")
    def get_termination(self, actor: Actor, termination_id: UUID) -> Termination:
        job = self.termination(termination_id)
        check_can_read(actor, self._get(job.model_id, Model, "model").owner)
        return job

    # -- the deploy worker's milestones -----------------------------------------------------------------

    def start_deployment(self, deployment_id: UUID, *, worker: str, attempt: int, lease_seconds: float) -> Deployment:
        deployment = self.deployment(deployment_id)
        deployment.start(worker=worker, attempt=attempt, lease_seconds=lease_seconds)
        self._save([deployment], None)
        return deployment

    def fail_deployment(self, deployment_id: UUID, *, worker: str, attempt: int, code: str, reason: str) -> int | None:
        deployment = self.deployment(deployment_id)
        deployment.fail(worker=worker, attempt=attempt, code=code, reason=reason)
        return self._save([deployment, *self._ended(deployment, f"failed [{code}]")], None)

    def complete_deployment(self, deployment_id: UUID, *, worker: str, attempt: int, resources: list[dict[str, str]],
                            endpoint: str | None) -> Recorded:
        """The deployment serves: recorded on it and on its version in one save."""
        deployment = self.deployment(deployment_id)
        deployment.provision(worker=worker, attempt=attempt, resources=resources, endpoint=endpoint)
        version = self._get(deployment.version_id, ModelVersion, "model version")
        if version.status not in (Status.APPROVED, Status.DEPLOYED):
            # Retired (say) while it was provisioned. Not an IllegalTransition, which the worker reads as "ended
            # elsewhere": the worker releases what it created and the deployment fails with this reason.
            raise PreconditionFailed(f"version {version.number} was {version.status} while it was being deployed; only "
                                     "an approved version is deployed")
        version.deploy(target=deployment.target, by=deployment.requested_by, deployment_id=deployment.id)
        return Recorded(self._save([deployment, version], None), deployment.id)

    def start_termination(self, termination_id: UUID, *, worker: str, attempt: int, lease_seconds: float) -> Termination:
        job = self.termination(termination_id)
        job.start(worker=worker, attempt=attempt, lease_seconds=lease_seconds)
        self._save([job], None)
        return job

    def fail_termination(self, termination_id: UUID, *, worker: str, attempt: int, code: str, reason: str) -> int | None:
        """The release failed: the deployment says so, and a manager may request its termination again."""
        job = self.termination(termination_id)
        job.fail(worker=worker, attempt=attempt, code=code, reason=reason)
        deployment = self.deployment(job.deployment_id)
        deployment.record_termination_failed(termination_id=job.id, code=code, reason=reason, worker=worker)
        return self._save([job, deployment], None)

    def complete_termination(self, termination_id: UUID, *, worker: str, attempt: int,
                             released: list[dict[str, str]]) -> Recorded:
        """Everything released: the termination, the deployment and its version record it in one save."""
        job = self.termination(termination_id)
        job.complete(worker=worker, attempt=attempt, released=released)
        deployment = self.deployment(job.deployment_id)
        deployment.record_terminated(termination_id=job.id, released=released, worker=worker)
        version = self._get(deployment.version_id, ModelVersion, "model version")
        version.end_deployment(deployment_id=deployment.id, by=job.requested_by, reason=job.reason)
        saved: list[Any] = [job, deployment, *([version] if version.pending_events else [])]
        return Recorded(self._save(saved, None), job.id)
