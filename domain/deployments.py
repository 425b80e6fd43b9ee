"""Deployments: an approved version served by a target, from the manager's request to its termination.

A manager requests a deployment of an approved (or already deployed) version to a target and size; a deploy worker
provisions it — the service's own processes for `local`, EC2, an Auto Scaling group or Lambda through the AWS API —
and records the resources it created and where it serves, or the reason it failed. The provisioning is a job like any
other (attempts under a lease, one outcome). A deployment that serves is routable: a routing config that sends
traffic to it records so on the deployment itself, in the same transaction, so a deployment still routed cannot be
terminated (the refusal names the config) and a terminated one can never be routed again.

Terminating is a job of its own (a Termination), because releasing cloud resources is work a worker does: the
manager's request makes the deployment `terminating` at once (nothing routes to it from then on), the worker
releases everything the target created and records the release on both. A terminated deployment stays terminated.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from .errors import IllegalTransition, InvalidInput, PreconditionFailed
from .inputs import MAX_ITEMS, check_text
from .jobs import JobLifecycle, JobState
from .timed import TimedAggregate

TARGETS = ("local", "aws-ec2", "aws-asg", "aws-lambda")
SIZES = ("small", "medium", "large")


class DeploymentStatus(StrEnum):
    REQUESTED = "requested"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATING = "terminating"
    TERMINATION_FAILED = "termination_failed"
    TERMINATED = "terminated"


_BY_JOB_STATE = {JobState.QUEUED: DeploymentStatus.REQUESTED, JobState.RUNNING: DeploymentStatus.PROVISIONING,
                 JobState.SUCCEEDED: DeploymentStatus.ACTIVE, JobState.FAILED: DeploymentStatus.FAILED,
                 JobState.CANCELLED: DeploymentStatus.CANCELLED}


#: What may be terminated: a serving deployment, one whose release failed, and one whose provisioning failed or was
#: cancelled (the worker releases what it made, but a release that failed then leaves something to clean up by tag).
TERMINABLE = frozenset({DeploymentStatus.ACTIVE, DeploymentStatus.TERMINATION_FAILED, DeploymentStatus.FAILED,
                        DeploymentStatus.CANCELLED})


def check_target(target: Any, size: Any) -> tuple[str, str]:
    if target not in TARGETS:
        raise InvalidInput(f"unknown deployment target {str(target)[:64]!r}; targets are {', '.join(TARGETS)}")
    if size not in SIZES:
        raise InvalidInput(f"unknown deployment size {str(size)[:64]!r}; sizes are {', '.join(SIZES)}")
    return target, size


def check_resources(resources: Any) -> list[dict[str, str]]:
    """What a target created: a list of {"type", "id", ...} with text values, each named once."""
    if not isinstance(resources, list) or len(resources) > MAX_ITEMS:
        raise InvalidInput(f"a deployment's resources are a list of at most {MAX_ITEMS} entries")
    for resource in resources:
        if not isinstance(resource, dict) or not {"type", "id"} <= set(resource) or len(resource) > 20:
            raise InvalidInput("each resource of a deployment names its type and id")
        for key, value in resource.items():
            check_text(key, "a resource's field name", max_length=100)
            check_text(value, f"a resource's {key}", max_length=2_000)
    return resources


def termination_id_for(deployment_id: UUID, number: int) -> UUID:
    """Termination jobs are numbered per deployment: two requests racing for the same one conflict."""
    return uuid5(deployment_id, f"termination:{number}")


class Deployment(JobLifecycle, TimedAggregate):
    """One version served by one target at one size: its provisioning job, its routes and its termination."""

    what = "deployment"

    @event("Requested")
    def __init__(self, version_id: UUID, model_id: UUID, target: str, size: str, artifact_hash: str,
                 requested_by: UUID, requested_by_name: str) -> None:
        self.version_id = version_id
        self.model_id = model_id
        self.target = target
        self.size = size
        self.artifact_hash = artifact_hash
        self.requested_by = requested_by
        self.requested_by_name = requested_by_name
        self.resources: list[dict[str, str]] = []
        self.endpoint: str | None = None
        self.provisioned_at: Any = None
        self.routed_by: set[str] = set()  # routing configs whose current rules send traffic here
        self.terminations = 0
        self.termination: dict[str, Any] | None = None
        self.terminated = False
        self.queued()

    @property
    def status(self) -> DeploymentStatus:
        if self.terminated:
            return DeploymentStatus.TERMINATED
        if self.termination is not None:
            failed = self.termination.get("error") is not None
            return DeploymentStatus.TERMINATION_FAILED if failed else DeploymentStatus.TERMINATING
        return _BY_JOB_STATE[self.state]

    @property
    def serving(self) -> bool:
        return self.status is DeploymentStatus.ACTIVE

    # -- provisioning (the job) -------------------------------------------------------------------------

    @event("Started")
    def _started(self, worker: str, attempt: int, lease_seconds: float) -> None:
        self.running(worker, attempt)

    def provision(self, *, worker: str, attempt: int, resources: Any, endpoint: str | None) -> None:
        self.check_worker(worker, attempt)
        if endpoint is not None:
            check_text(endpoint, "a deployment's endpoint", max_length=2_000)
        self._provisioned(worker, attempt, check_resources(resources), endpoint)

    @event("Provisioned")
    def _provisioned(self, worker: str, attempt: int, resources: list[dict[str, str]], endpoint: str | None) -> None:
        self.state = JobState.SUCCEEDED
        self.resources, self.endpoint, self.provisioned_at = resources, endpoint, self.modified_on
        self.result = {"deployment_id": str(self.id), "version_id": str(self.version_id), "target": self.target,
                       "size": self.size, "resources": resources, "endpoint": endpoint}

    @event("Failed")
    def _failed(self, worker: str, attempt: int, code: str, reason: str) -> None:
        self.failed(code, reason)

    @event("Cancelled")
    def _cancelled(self, cancelled_by: UUID, cancelled_by_name: str, reason: str) -> None:
        self.cancelled(cancelled_by_name, reason)

    # -- routes -----------------------------------------------------------------------------------------

    def route_from(self, config_id: UUID, config_name: str, by_name: str) -> None:
        """A routing config now sends traffic here: only a serving deployment can take it."""
        if str(config_id) in self.routed_by:
            return
        if not self.serving:
            raise PreconditionFailed(f"deployment {self.id} is {self.status}; only an active deployment takes traffic "
                                     f"(routing config {config_name!r})")
        self._routed(config_id, by_name)

    @event("Routed")
    def _routed(self, routing_config_id: UUID, configured_by_name: str | None = None) -> None:
        self.routed_by.add(str(routing_config_id))

    def unroute_from(self, config_id: UUID, by_name: str) -> None:
        if str(config_id) in self.routed_by:
            self._unrouted(config_id, by_name)

    @event("Unrouted")
    def _unrouted(self, routing_config_id: UUID, configured_by_name: str | None = None) -> None:
        self.routed_by.discard(str(routing_config_id))

    # -- termination ------------------------------------------------------------------------------------

    def request_termination(self, *, by: UUID, by_name: str, reason: str, routed_names: dict[str, str]) -> UUID:
        """Start releasing what the target created; `routed_names` names the configs still routing here."""
        if self.terminated:
            raise IllegalTransition(f"deployment {self.id} is terminated; a terminated deployment stays terminated")
        if self.routed_by:
            names = ", ".join(sorted(f"{routed_names.get(c, c)!r} ({c})" for c in self.routed_by))
            raise PreconditionFailed(f"deployment {self.id} still takes traffic from routing config {names}; route "
                                     "that traffic elsewhere first")
        if self.status is DeploymentStatus.TERMINATING:
            raise IllegalTransition(f"deployment {self.id} is already being terminated (termination "
                                    f"{self.termination['job_id'] if self.termination else '?'})")
        if self.status not in TERMINABLE:
            raise IllegalTransition(f"deployment {self.id} is {self.status}; a deployment still being provisioned is "
                                    "cancelled, not terminated")
        reason = check_text(reason, "a termination's reason", max_length=2_000)
        termination_id = termination_id_for(self.id, self.terminations + 1)
        self._termination_requested(by, by_name, reason.strip(), termination_id)
        return termination_id

    @event("TerminationRequested")
    def _termination_requested(self, terminated_by: UUID, terminated_by_name: str, reason: str,
                               termination_id: UUID) -> None:
        self.terminations += 1
        self.termination = {"job_id": str(termination_id), "by": terminated_by_name, "reason": reason, "error": None}

    def _check_termination(self, termination_id: UUID) -> None:
        if self.termination is None or self.termination["job_id"] != str(termination_id) or self.terminated:
            raise IllegalTransition(f"termination {termination_id} is not deployment {self.id}'s open termination")

    def record_terminated(self, *, termination_id: UUID, released: list[dict[str, str]], worker: str) -> None:
        self._check_termination(termination_id)
        self._terminated(termination_id, check_resources(released), worker)

    @event("Terminated")
    def _terminated(self, termination_id: UUID, released: list[dict[str, str]], worker: str | None = None) -> None:
        self.terminated = True

    def record_termination_failed(self, *, termination_id: UUID, code: str, reason: str, worker: str) -> None:
        self._check_termination(termination_id)
        self._termination_failed(termination_id, code, reason, worker)

    @event("TerminationFailed")
    def _termination_failed(self, termination_id: UUID, code: str, reason: str, worker: str | None = None) -> None:
        assert self.termination is not None
        self.termination = {**self.termination, "error": {"code": code, "message": reason}}


class Termination(JobLifecycle, TimedAggregate):
    """Releasing a deployment's resources: a job a deploy worker runs, which cannot be cancelled (half-released
    resources are worse than either state)."""

    what = "termination"

    @event("Requested")
    def __init__(self, deployment_id: UUID, number: int, version_id: UUID, model_id: UUID, target: str, reason: str,
                 requested_by: UUID, requested_by_name: str) -> None:
        self.deployment_id = deployment_id
        self.number = number
        self.version_id = version_id
        self.model_id = model_id
        self.target = target
        self.reason = reason
        self.requested_by = requested_by
        self.requested_by_name = requested_by_name
        self.queued()

    @staticmethod
    def create_id(deployment_id: UUID, number: int, version_id: UUID, model_id: UUID, target: str, reason: str,
                  requested_by: UUID, requested_by_name: str) -> UUID:
        return termination_id_for(deployment_id, number)

    def cancel(self, *, by: UUID, by_name: str, reason: str) -> None:
        raise IllegalTransition(f"termination {self.id} cannot be cancelled: the release runs to its end")

    @event("Started")
    def _started(self, worker: str, attempt: int, lease_seconds: float) -> None:
        self.running(worker, attempt)

    def complete(self, *, worker: str, attempt: int, released: list[dict[str, str]]) -> None:
        self.check_worker(worker, attempt)
        self._completed(worker, attempt, check_resources(released))

    @event("Completed")
    def _completed(self, worker: str, attempt: int, released: list[dict[str, str]]) -> None:
        self.state = JobState.SUCCEEDED
        self.result = {"deployment_id": str(self.deployment_id), "released": released}

    @event("Failed")
    def _failed(self, worker: str, attempt: int, code: str, reason: str) -> None:
        self.failed(code, reason)

    @event("Cancelled")
    def _cancelled(self, cancelled_by: UUID, cancelled_by_name: str, reason: str) -> None:  # never recorded
        self.cancelled(cancelled_by_name, reason)
