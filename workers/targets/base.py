"""What a deployment target is: the sizes a manager picks from, what a worker hands a target, what it gets back.

A target provisions the cloud resources that serve one approved model version, and releases them. Every resource a
target creates is tagged (or named) for its deployment, so a worker that died mid-way leaves nothing a later attempt,
or a release, cannot find.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import UUID

from ledger.errors import LedgerError

#: The tag every created resource carries, its value the deployment's id: how a later attempt and a release find it.
TAG_KEY = "govledger:deployment"
VERSION_TAG = "govledger:version"
MODEL_TAG = "govledger:model"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Size:
    """What one deployment size buys on each kind of target."""

    concurrency: int  # requests served at once
    replicas: int
    instance_type: str  # EC2 and Auto Scaling
    asg_min: int
    asg_max: int
    lambda_memory_mb: int


SIZES: dict[str, Size] = {
    "small": Size(concurrency=4, replicas=1, instance_type="t3.small", asg_min=1, asg_max=2, lambda_memory_mb=512),
    "medium": Size(concurrency=16, replicas=2, instance_type="t3.medium", asg_min=2, asg_max=4, lambda_memory_mb=1024),
    "large": Size(concurrency=64, replicas=4, instance_type="m5.large", asg_min=4, asg_max=8, lambda_memory_mb=2048),
}


class DeploymentError(LedgerError):
    """A deployment that cannot be provisioned or released. `code` is stable and set per error
    ("aws_invalid_ami", "aws_throttled", "cancelled", …); the message is for people and holds no secret."""

    code = "deployment_failed"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DeploymentSpec:
    """One approved model version to serve. `artifact_path` is a local copy whose bytes already match
    `artifact_hash` (the ledger's SHA-256, lowercase hex)."""

    deployment_id: UUID
    version_id: UUID
    model_id: UUID
    artifact_hash: str
    size: str
    artifact_path: Path

    def __post_init__(self) -> None:
        # The hash goes into a boot script and into object keys: anything but 64 hex digits is refused, not quoted.
        if not _SHA256.match(self.artifact_hash):
            raise DeploymentError("invalid_spec", "the artifact hash is not a SHA-256 in lowercase hex")
        if self.size not in SIZES:
            raise DeploymentError("invalid_spec", f"size {self.size!r} is not one of {', '.join(SIZES)}")

    @property
    def sizing(self) -> Size:
        return SIZES[self.size]

    @property
    def tags(self) -> dict[str, str]:
        """The tags every resource of this deployment carries."""
        return {TAG_KEY: str(self.deployment_id), VERSION_TAG: str(self.version_id), MODEL_TAG: str(self.model_id)}


@dataclass(frozen=True)
class Provisioned:
    """What a deployment runs on, JSON-able for the ledger: `resources` as [{"type": …, "id": …}], str values only;
    `endpoint` where it serves, or None when the target has no single address."""

    resources: list[dict[str, str]]
    endpoint: str | None


#: progress: a fraction in [0, 1] and what is happening now.
Report = Callable[[float, str], None]
#: True once the deployment should stop (cancelled, or the worker lost its claim).
ShouldStop = Callable[[], bool]


class Target(Protocol):
    """Provisions and releases one kind of serving infrastructure.

    provision() adopts what an earlier, interrupted attempt created for the same deployment instead of creating it
    twice; on any failure, or when `should_stop()` turns true, it releases everything of the deployment and raises
    DeploymentError. release() deletes everything tagged or named for the deployment and returns what it deleted; a
    second call deletes nothing and succeeds."""

    name: str

    def provision(self, spec: DeploymentSpec, report: Report, should_stop: ShouldStop) -> Provisioned: ...

    def release(self, deployment_id: UUID) -> list[dict[str, str]]: ...
