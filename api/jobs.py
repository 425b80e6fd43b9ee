"""Jobs: training requests (202 with a job id at once), their state and live progress, cancellation, and batch runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import Field, StrictFloat, StrictInt

from domain.batch import BatchRun
from domain.deployments import Deployment, Termination
from domain.training import FINAL, JobState
from ledger.jobs import live_progress, progress_of
from projections.queries import JOB_COLUMNS

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import Body, IdempotencyKey, JobDetail, JobPublic, Name, Text, with_position

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["jobs"], responses=RESPONSES)

Column = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class PreprocessingIn(Body):
    imputation: Literal["median", "mean", "most_frequent", "constant"] | None = None
    encoding: Literal["onehot", "ordinal"] | None = None
    scaling: Literal["standard", "minmax", "robust", "none"] | None = None
    outliers: Literal["none", "clip"] | None = Field(None, description="clip: winsorise numeric features at the training 1st/99th percentiles")
    feature_selection: Literal["none", "variance", "k_best"] | None = None
    k_best: StrictInt | None = Field(None, ge=1, le=1000)


class TrainingIn(Body):
    dataset_id: UUID
    target: Column | None = Field(None, description="the column to predict; leave out for clustering")
    task: Literal["classification", "regression", "clustering"]
    time_budget_seconds: Annotated[StrictFloat | StrictInt, Field(gt=0, description="how long the search may run")]
    metric: Name | None = Field(None, description="classification: roc_auc (default for two classes), accuracy, "
                                "balanced_accuracy, f1, f1_macro (default otherwise), log_loss; regression: r2 "
                                "(default), rmse, mae; clustering: silhouette")
    exclude: list[Column] = Field(default_factory=list, max_length=1000)
    protected_attributes: list[Column] = Field(default_factory=list, max_length=1000,
                                               description="kept out of the features, recorded for fairness checks")
    preprocessing: PreprocessingIn = Field(default_factory=PreprocessingIn)
    model_id: UUID | None = Field(None, description="add the version to this model (yours); by default a new model")
    model_name: Name | None = Field(None, description="the new model's name (default: the dataset's name and target)")


class JobAccepted(Body):
    job_id: str
    kind: str
    state: str
    position: int | None


@router.post("/training-jobs", response_model=JobAccepted, status_code=202)
def request_training(services: ServicesDep, actor: CurrentActor, body: TrainingIn,
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Queue AutoML on a dataset: a training worker claims the job; follow it at /v1/jobs/{job_id}."""
    recorded = services.governance.request_training(
        actor, dataset_id=body.dataset_id, task=body.task, target=body.target,
        time_budget_seconds=body.time_budget_seconds, metric=body.metric, exclude=body.exclude,
        protected_attributes=body.protected_attributes, preprocessing=body.preprocessing.model_dump(exclude_none=True),
        model_id=body.model_id, model_name=body.model_name, idempotency_key=idempotency_key)
    return {"job_id": str(recorded.id), "kind": "training", "state": "queued", "position": recorded.position}


def _public(row: dict[str, Any], live: dict[str, Any] | None = None) -> dict[str, Any]:
    done = row["state"] in {s.value for s in FINAL}
    fraction = 1.0 if done else float(live["fraction"]) if live else 0.0
    return {**with_position(row), "progress": fraction, "request": row["request"] or {}, "live": live}


@router.get("/jobs", response_model=Page[JobPublic])
def list_jobs(services: ServicesDep, actor: CurrentActor, model_id: UUID | None = None, version_id: UUID | None = None,
              kind: Literal["training", "batch_inference", "deployment", "termination"] | None = None,
              state: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
              as_of: AsOf = None, cursor: Cursor = None, limit: Limit = 100) -> dict[str, Any]:
    """Training jobs, batch inference runs, deployments and terminations, oldest first; data scientists see the jobs
    they requested or that concern their models."""
    if model_id is not None:
        services.governance.get_model(actor, model_id)
    with reading(services, actor, "jobs", as_of=as_of, cursor=cursor) as r:
        query = (r.query().valid_at(r.nid).equal("model_id", model_id and str(model_id)).equal("kind", kind)
                 .equal("state", state).equal("version_id", version_id and str(version_id)))
        if r.owner is not None:
            query.add(f"(requested_by_id = {r.param} OR model_id IN (SELECT model_id FROM registry_models"
                      f" WHERE owner = {r.param}))", r.owner, r.owner)
        page = r.fetch(query, "jobs", JOB_COLUMNS, {"created": int, "job_id": str}, limit)
        running = [row["job_id"] for row in page["items"] if row["state"] == "running"] if as_of is None else []
        live = live_progress(services.db, r.conn, running)
    return {**page, "items": [_public(row, live.get(row["job_id"])) for row in page["items"]]}


@router.get("/jobs/{job_id}", response_model=JobDetail)
def get_job(services: ServicesDep, actor: CurrentActor, job_id: Annotated[str, Path(max_length=200)],
            as_of: AsOf = None) -> dict[str, Any]:
    """One job: its state, progress (live while a worker runs it), requester and result or error."""
    gov, db = services.governance, services.db
    ident = _uuid(job_id)
    if ident is not None:
        job = _job(gov, actor, ident)  # a data scientist reads only their own: refused and recorded
        if as_of is None:
            with db.connect() as conn:
                live = progress_of(db, conn, job_id) if job.state is JobState.RUNNING else None
            return _from_aggregate(job, live)
    with reading(services, actor, f"job {job_id}", as_of=as_of) as r:
        found = r.row("jobs", JOB_COLUMNS, "job_id", job_id, f"job {job_id}")
        if ident is None and r.owner is not None:  # evidence posted before runs were computed: its model's owner reads it
            gov.get_model(actor, UUID(found["model_id"]))
    return _public(found)


def _job(gov: Any, actor: Any, job_id: UUID) -> Any:
    return gov.get_job(actor, job_id)


def _uuid(job_id: str) -> UUID | None:
    try:
        return UUID(job_id)
    except ValueError:
        return None


def _from_aggregate(job: Any, live: dict[str, Any] | None) -> dict[str, Any]:
    """The job as the ledger holds it now (the read models may not have reached its last event yet)."""
    result = job.result
    common = {"job_id": str(job.id), "state": job.state.value,
              "progress": 1.0 if job.state in FINAL else float(live["fraction"]) if live else 0.0,
              "dataset_id": str(job.dataset_id) if hasattr(job, "dataset_id") else None,
              "requested_by": job.requested_by_name,
              "requested_at": job.created_on.isoformat(),
              "started_at": job.started_at.isoformat() if job.started_at else None,
              "finished_at": job.modified_on.isoformat() if job.state in FINAL else None, "worker": job.worker,
              "attempt": job.attempt, "result": result, "error": job.error, "position": None, "live": live}
    if isinstance(job, Deployment):
        return {**common, "kind": "deployment", "model_id": str(job.model_id), "version_id": str(job.version_id),
                "request": {"version_id": str(job.version_id), "target": job.target, "size": job.size,
                            "artifact_hash": job.artifact_hash}}
    if isinstance(job, Termination):
        return {**common, "kind": "termination", "model_id": str(job.model_id), "version_id": str(job.version_id),
                "request": {"deployment_id": str(job.deployment_id), "target": job.target, "reason": job.reason}}
    if isinstance(job, BatchRun):
        return {**common, "kind": "batch_inference", "model_id": str(job.model_id), "version_id": str(job.version_id),
                "request": {"version_id": str(job.version_id), "dataset_id": str(job.dataset_id),
                            "dataset_hash": job.dataset_hash, "label_column": job.label_column,
                            "protected_attributes": job.protected_attributes, "thresholds": job.thresholds}}
    return {**common, "kind": "training",
            "model_id": (result or {}).get("model_id") or (str(job.model_id) if job.model_id else None),
            "version_id": (result or {}).get("version_id"),
            "request": {"dataset_id": str(job.dataset_id), "dataset_hash": job.dataset_hash, "task": job.task,
                        "target": job.target, "time_budget_seconds": job.time_budget_seconds, "metric": job.metric,
                        "exclude": job.exclude, "protected_attributes": job.protected_attributes,
                        "preprocessing": job.preprocessing, "model_name": job.model_name}}


class CancelIn(Body):
    reason: Text = ""


@router.post("/jobs/{job_id}/cancel", response_model=JobDetail)
def cancel_job(services: ServicesDep, actor: CurrentActor, job_id: UUID, body: CancelIn | None = None,
               idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Cancel a queued or running job (its requester only); a running worker stops within a second or two."""
    gov, reason = services.governance, (body.reason if body else "")
    # The kind first, then its command: trying cancel_training on a batch run refused a manager (who may request and
    # cancel batch runs, not training) by role, recording an AccessDenied for a command they never meant.
    gov.cancel_job(actor, job_id, reason=reason, idempotency_key=idempotency_key)
    return _from_aggregate(_job(gov, actor, job_id), None)
