"""Datasets, models and their versions, from registration through review to deployment and retirement."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ..batch import BatchRun
from ..compliance import score
from ..datasets import Dataset
from ..errors import ArtifactMismatch, InvalidInput
from ..inputs import MAX_ITEMS
from ..models import Model, ModelVersion
from ..roles import Action, Actor, check_can_read, check_owns
from .guard import Pending, Service, command, pending, query


class ArtifactStore(Protocol):
    """Where model artifacts live, content-addressed by SHA-256 (a directory, or S3)."""

    def put(self, data: bytes) -> str: ...


class Lifecycle(Service):
    """Data scientists register data, models and versions and stage them; managers review, deploy and retire."""

    artifacts: ArtifactStore | None

    def get_dataset(self, dataset_id: UUID) -> Dataset:
        return self._get(dataset_id, Dataset, "dataset")

    def _owned_model(self, actor: Actor, model_id: UUID) -> Model:
        """The model, if the actor may work on it: data scientists work only on the models they own."""
        model = self._get(model_id, Model, "model")
        check_owns(actor, model.owner)
        return model

    def _version_of(self, actor: Actor, version_id: UUID) -> tuple[Model, ModelVersion]:
        version = self._get(version_id, ModelVersion, "model version")
        return self._owned_model(actor, version.model_id), version

    @command(Action.TRAIN, "dataset", "name")
    def register_dataset(self, actor: Actor, *, name: str, source: str, schema: dict[str, str], row_count: int,
                         content_hash: str, source_kind: str | None = None, profile: dict[str, Any] | None = None,
                         snapshot: bool = False) -> Pending:
        """Register a dataset by its SHA-256; `snapshot` says its bytes are in the artifact store under that hash."""
        dataset = Dataset.register(name=name, source=source, schema=schema, row_count=row_count,
                                   content_hash=content_hash, registered_by=actor.username, source_kind=source_kind,
                                   profile=profile, snapshot=snapshot)
        return pending(dataset, id=dataset.id)

    @command(Action.TRAIN, "model", "name")
    def register_model(self, actor: Actor, *, name: str, description: str = "") -> Pending:
        model = Model.register(name=name, description=description, owner=actor.user_id, registered_by=actor.username)
        return pending(model, id=model.id)

    @command(Action.TRAIN, "model", "model_id")
    def import_version(self, actor: Actor, model_id: UUID, *, artifact: bytes, declared_hash: str, estimator: str,
                       metrics: dict[str, float], input_schema: dict[str, str], target: str,
                       dataset_ids: list[UUID]) -> Pending:
        """Import a version trained elsewhere: its artifact must hash to what the data scientist declared."""
        model = self._owned_model(actor, model_id)
        if not isinstance(dataset_ids, list) or len(dataset_ids) > MAX_ITEMS:
            raise InvalidInput(f"a version's lineage is a list of at most {MAX_ITEMS} dataset ids")
        for dataset_id in dataset_ids:
            self.get_dataset(dataset_id)
        actual = hashlib.sha256(artifact).hexdigest()
        if actual != declared_hash:
            raise ArtifactMismatch(f"the artifact's SHA-256 is {actual}, not the declared {declared_hash}")
        version = ModelVersion.import_trained(
            model_id=model.id, number=model.next_number, artifact_hash=actual, estimator=estimator, metrics=metrics,
            input_schema=input_schema, target=target, dataset_ids=list(dataset_ids), trained_by=actor.user_id,
            trained_by_name=actor.username)
        if self.artifacts is None:
            raise InvalidInput("this service has no artifact store configured")
        self.artifacts.put(artifact)  # content-addressed: storing twice is harmless, so before the events
        model.add_version(version.id, version.number, actor.username)
        return pending(model, version, id=version.id)

    @query(Action.READ, "model", "model_id")
    def get_model(self, actor: Actor, model_id: UUID) -> Model:
        model = self._get(model_id, Model, "model")
        check_can_read(actor, model.owner)
        return model

    @query(Action.READ, "model_version", "version_id")
    def get_version(self, actor: Actor, version_id: UUID) -> ModelVersion:
        version = self._get(version_id, ModelVersion, "model version")
        check_can_read(actor, self._get(version.model_id, Model, "model").owner)
        return version

    def _step(self, actor: Actor, version_id: UUID, step: Callable[[Model, ModelVersion], Any]) -> Pending:
        model, version = self._version_of(actor, version_id)
        step(model, version)
        return pending(version, id=version.id)

    @command(Action.TRAIN, "model_version", "version_id")
    def export_to_staging(self, actor: Actor, version_id: UUID) -> Pending:
        return self._step(actor, version_id, lambda _, v: v.export_to_staging(actor.user_id))

    @command(Action.APPROVE, "model_version", "version_id")
    def approve(self, actor: Actor, version_id: UUID, *, findings: str, batch_run_id: Any = None,
                justification: str | None = None) -> Pending:
        return self._step(actor, version_id, lambda m, v: v.approve(
            by=actor.user_id, by_name=actor.username, findings=findings, justification=justification,
            batch_run_id=batch_run_id, missing_mandatory=score(m, v).blocking_approval,
            judged_as_now=self._judged_as_now(m, batch_run_id)))

    def _judged_as_now(self, model: Model, batch_run_id: Any) -> bool:
        """A run is judged by the thresholds in force when it was requested: once the model's compliance config has
        changed them (its risk tier raised, say), that judgement no longer stands, and the version needs a new run."""
        try:
            run = self.repository.get(UUID(str(batch_run_id)))
        except (ValueError, AggregateNotFoundError):
            return True  # not a run at all: the version's own check names it
        return not isinstance(run, BatchRun) or run.thresholds == model.config.thresholds

    @command(Action.APPROVE, "model_version", "version_id")
    def reject(self, actor: Actor, version_id: UUID, *, findings: str) -> Pending:
        return self._step(actor, version_id, lambda _, v: v.reject(by=actor.user_id, by_name=actor.username,
                                                                   findings=findings))

    @command(Action.DEPLOY, "model_version", "version_id")
    def retire(self, actor: Actor, version_id: UUID, *, reason: str) -> Pending:
        return self._step(actor, version_id, lambda _, v: v.retire(by=actor.user_id, reason=reason))
