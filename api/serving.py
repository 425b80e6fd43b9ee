"""What an API process keeps in memory to answer predictions fast, each piece checked against the ledger.

- A routing key's config: authenticated against the key's SHA-256 in the ledger, then trusted for TTL seconds (a
  revoked or rotated key stops working within TTL; so does a config's new revision take effect).
- Whether a deployment still serves: read from the ledger at most every TTL seconds.
- The model of a local deployment: loaded once per process, only after its artifact's bytes match the ledger's hash
  and hold only trusted types, with its explainer; admitted at most `concurrency` requests at a time (its size's),
  beyond which a request waits up to WAIT seconds and is then refused (503 deployment_busy).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pandas as pd

from domain.application import Governance
from domain.deployments import Deployment
from domain.errors import DomainError
from domain.models import ModelVersion
from domain.routing import RoutingConfig
from ledger.artifacts import LocalArtifactStore, load_model
from ml.online import OnlineModel
from ml.tabular import read_csv

TTL = 1.0
WAIT = 5.0
BACKGROUND_ROWS = 200


class DeploymentUnavailable(DomainError):
    """The routed version's deployment no longer serves (terminated, or being terminated)."""

    code = "deployment_unavailable"


class DeploymentBusy(DomainError):
    code = "deployment_busy"


@dataclass
class Served:
    """One local deployment as this process serves it."""

    deployment_id: UUID
    version: ModelVersion
    model: OnlineModel
    slots: threading.BoundedSemaphore


class Serving:
    def __init__(self, gov: Governance, artifacts: LocalArtifactStore | None, *, ttl: float = TTL,
                 max_dataset_bytes: int = 512 * 1024 * 1024) -> None:
        self.gov, self.artifacts, self.ttl, self.max_dataset_bytes = gov, artifacts, ttl, max_dataset_bytes
        self._configs: dict[str, tuple[float, RoutingConfig]] = {}
        self._serving: dict[UUID, tuple[float, bool]] = {}
        self._models: dict[UUID, Served] = {}
        self._lock = threading.Lock()
        self._loading: dict[UUID, threading.Lock] = {}

    def config_for(self, token: Any) -> RoutingConfig:
        """The config a routing key selects (unknown, malformed and revoked keys are refused alike)."""
        if not isinstance(token, str):
            return self.gov.authenticate_routing_key(token)  # refused, with the same answer as any bad key
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        now = time.monotonic()
        cached = self._configs.get(digest)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        config = self.gov.authenticate_routing_key(token)
        self._configs[digest] = (now, config)
        return config

    def check_serving(self, deployment_id: UUID) -> None:
        now = time.monotonic()
        cached = self._serving.get(deployment_id)
        if cached is None or now - cached[0] >= self.ttl:
            cached = (now, self.gov.deployment(deployment_id).serving)
            self._serving[deployment_id] = cached
        if not cached[1]:
            raise DeploymentUnavailable(f"deployment {deployment_id} no longer serves (it was terminated); the routing "
                                        "config must be changed to route elsewhere")

    def served(self, deployment_id: UUID) -> Served:
        found = self._models.get(deployment_id)
        if found is not None:
            return found
        with self._lock:
            loading = self._loading.setdefault(deployment_id, threading.Lock())
        with loading:  # one load per deployment, however many requests arrive first
            found = self._models.get(deployment_id)
            if found is None:
                found = self._load(self.gov.deployment(deployment_id))
                self._models[deployment_id] = found
        return found

    def _load(self, deployment: Deployment) -> Served:
        if self.artifacts is None:
            raise DeploymentUnavailable("this API process has no artifact store, so it serves no model")
        version: ModelVersion = self.gov.repository.get(deployment.version_id)
        pipeline = load_model(self.artifacts, version.artifact_hash)  # only after its bytes match the ledger
        features = list(version.input_schema)
        task = version.task or ("classification" if hasattr(pipeline, "classes_") else "regression")
        model = OnlineModel(pipeline, features, task, background=self._background(version))
        concurrency = next((int(r["concurrency"]) for r in deployment.resources if "concurrency" in r), 4)
        return Served(deployment.id, version, model, threading.BoundedSemaphore(concurrency))

    def _background(self, version: ModelVersion) -> pd.DataFrame | None:
        """Rows of the version's training data, when their snapshot is kept: what a linear model is explained against."""
        assert self.artifacts is not None
        for dataset_id in version.dataset_ids:
            dataset = self.gov.get_dataset(dataset_id)
            if dataset.snapshot and set(version.input_schema) <= set(dataset.schema):
                with self.artifacts.verified_copy(dataset.content_hash) as path:
                    frame = read_csv(path, max_bytes=self.max_dataset_bytes)
                return frame[list(version.input_schema)].sample(min(len(frame), BACKGROUND_ROWS), random_state=0)
        return None

    @contextmanager
    def admitted(self, served: Served) -> Iterator[None]:
        """One of the deployment's concurrency slots, for as long as the prediction takes."""
        if not served.slots.acquire(timeout=WAIT):
            raise DeploymentBusy(f"deployment {served.deployment_id} is answering as many requests as its size allows; "
                                 "try again, or deploy a larger size")
        try:
            yield
        finally:
            served.slots.release()
