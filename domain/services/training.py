"""Training: data scientists request AutoML on a registered dataset; workers record each job's milestones.

Requests and cancellations are commands, guarded like every other. The milestones (started, completed, failed) are
recorded by the training workers, which no API route reaches; they are not a user's actions, so no role check
applies, but the job's own rules do: only the worker of the latest attempt may end it, and the job's version in the
event store makes two workers racing to end it record one outcome.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from ..datasets import Dataset
from ..errors import Forbidden, InvalidInput
from ..models import Model, ModelVersion
from ..roles import Action, Actor, Role, check_owns
from ..training import (
    DEFAULT_MAX_BUDGET_S,
    TrainingJob,
    check_preprocessing,
    check_request,
)
from .guard import Pending, Recorded, Service, command, pending, query


class Training(Service):
    """AutoML training jobs, from request to their one outcome."""

    #: the longest time budget a request may ask for, in seconds (the composition root sets it from the settings)
    max_training_budget: float = DEFAULT_MAX_BUDGET_S

    def training_job(self, job_id: UUID) -> TrainingJob:
        return self._get(job_id, TrainingJob, "training job")

    @command(Action.TRAIN, "dataset", "dataset_id")
    def request_training(self, actor: Actor, *, dataset_id: UUID, task: str, time_budget_seconds: float,
                         target: str | None = None, metric: str | None = None, exclude: list[str] | None = None,
                         protected_attributes: list[str] | None = None, preprocessing: dict[str, Any] | None = None,
                         model_id: UUID | None = None, model_name: str | None = None) -> Pending:
        """Queue AutoML on a dataset whose bytes the artifact store holds, for a model the actor owns (or a new one)."""
        dataset = self._get(dataset_id, Dataset, "dataset")
        if model_id is not None and model_name is not None:
            raise InvalidInput("name an existing model (model_id) or a new one (model_name), not both")
        if model_id is not None:
            model = self._get(model_id, Model, "model")
            check_owns(actor, model.owner)
            name = model.name
        else:
            name = model_name or f"{dataset.name[:120]} {target or 'clusters'}"  # within a model name's 200 characters
        exclude, protected = check_request(schema=dataset.schema, profile=dataset.profile, task=task, target=target,
                                           budget=time_budget_seconds, max_budget=self.max_training_budget,
                                           metric=metric, exclude=exclude, protected=protected_attributes)
        if not dataset.snapshot:
            raise InvalidInput(f"dataset {dataset.name!r} was registered by its hash alone; its data is not in the "
                               "artifact store, so nothing can train on it (ingest the file instead)")
        job = TrainingJob.request(
            dataset_id=dataset.id, dataset_hash=dataset.content_hash, task=task, target=target,
            time_budget_seconds=float(time_budget_seconds), metric=metric, exclude=exclude, protected_attributes=protected,
            preprocessing=check_preprocessing(preprocessing), model_id=model_id, model_name=name,
            requested_by=actor.user_id, requested_by_name=actor.username)
        return pending(job, id=job.id)

    @command(Action.TRAIN, "training_job", "job_id")
    def cancel_training(self, actor: Actor, job_id: UUID, *, reason: str = "") -> Pending:
        """Cancel a queued or running job: only its requester may."""
        job = self.training_job(job_id)
        job.cancel(by=actor.user_id, by_name=actor.username, reason=reason)
        return pending(job, id=job.id)

    @query(Action.READ, "training_job", "job_id")
    def get_training_job(self, actor: Actor, job_id: UUID) -> TrainingJob:
        """A job, for any reader; data scientists read only the jobs they requested."""
        job = self.training_job(job_id)
        if actor.role is Role.DATA_SCIENTIST and job.requested_by != actor.user_id:
            raise Forbidden(f"{actor.username} (data_scientist) may read only the jobs they requested")
        return job

    # -- the worker's milestones ------------------------------------------------------------------------

    def start_training(self, job_id: UUID, *, worker: str, attempt: int, lease_seconds: float) -> TrainingJob:
        """Record that `worker` runs `attempt` of the job (Conflict if another worker recorded it first)."""
        job = self.training_job(job_id)
        job.start(worker=worker, attempt=attempt, lease_seconds=lease_seconds)
        self._save([job], None)
        return job

    def fail_training(self, job_id: UUID, *, worker: str, attempt: int, code: str, reason: str) -> int | None:
        job = self.training_job(job_id)
        job.fail(worker=worker, attempt=attempt, code=code, reason=reason)
        return self._save([job], None)

    def complete_training(self, job_id: UUID, *, worker: str, attempt: int, artifact_hash: str, trained: dict[str, Any]
                          ) -> Recorded:
        """Record the job's outcome and the version it trained, in one save: the model (new, or the one the request
        named), its next version with everything later stages need, and the job's completion.

        `trained` holds estimator, family, params, metric, cv_mean, cv_std, leaderboard, metrics, candidates, seconds,
        input_schema, feature_domains, baseline and classes."""
        job = self.training_job(job_id)
        job.check_worker(worker, attempt)
        if job.model_id is not None:
            model = self._get(job.model_id, Model, "model")
        else:  # the id is the job's, so a completion retried after a conflict names the same model
            model = Model._create(Model.Registered, id=uuid5(job.id, "model"), name=job.model_name,
                                  description=f"trained by training job {job.id}", owner=job.requested_by,
                                  registered_by=job.requested_by_name)
        version = ModelVersion.from_training(
            model_id=model.id, number=model.next_number, artifact_hash=artifact_hash, estimator=trained["estimator"],
            metrics=trained["metrics"], input_schema=trained["input_schema"], target=job.target,
            dataset_ids=[job.dataset_id], trained_by=job.requested_by, trained_by_name=job.requested_by_name,
            job_id=job.id, task=job.task, feature_domains=trained["feature_domains"], baseline=trained["baseline"],
            leaderboard=trained["leaderboard"], protected_attributes=job.protected_attributes, classes=trained["classes"])
        model.add_version(version.id, version.number, job.requested_by_name)
        job.complete(worker=worker, attempt=attempt, version_id=version.id, model_id=model.id, artifact_hash=artifact_hash,
                     family=trained["family"], params=trained["params"], metric=trained["metric"],
                     cv_mean=trained["cv_mean"], cv_std=trained["cv_std"], leaderboard=trained["leaderboard"],
                     metrics=trained["metrics"], candidates=trained["candidates"], seconds=trained["seconds"],
                     greater_is_better=trained.get("greater_is_better", True))
        position = self._save([job, model, version], None)
        return Recorded(position, version.id)
