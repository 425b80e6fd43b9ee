"""The `local` target, the embedded default: the service's own API processes serve the version.

Nothing outside the service is created. Provisioning proves the version can be served here — its artifact matches
the ledger's hash and loads with only trusted types — and records the size's concurrency and replicas, which each API
process applies when it loads the version on its first prediction (after checking the hash again). Releasing has
nothing to delete: a terminated deployment is not routable, so no process serves it any more.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from ledger.artifacts import LocalArtifactStore, load_model

from .base import SIZES, DeploymentError, DeploymentSpec, Provisioned

#: Where a local deployment answers: the service's own prediction endpoint.
ENDPOINT = "/v1/predict"


class LocalTarget:
    name = "local"

    def __init__(self, artifacts: LocalArtifactStore) -> None:
        self.artifacts = artifacts

    def provision(self, spec: DeploymentSpec, report: Callable[[float, str], None],
                  should_stop: Callable[[], bool]) -> Provisioned:
        report(0.1, "loading the artifact")
        load_model(self.artifacts, spec.artifact_hash)  # the hash and the trusted types, checked as every process will
        if should_stop():
            raise DeploymentError("cancelled", f"deployment {spec.deployment_id} was cancelled")
        size = SIZES[spec.size]
        report(1.0, "serving")
        return Provisioned(resources=[{"type": "local-serving", "id": str(spec.deployment_id),
                                       "concurrency": str(size.concurrency), "replicas": str(size.replicas)}],
                           endpoint=ENDPOINT)

    def release(self, deployment_id: UUID) -> list[dict[str, str]]:
        return [{"type": "local-serving", "id": str(deployment_id)}]
