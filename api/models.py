"""Models, versions, datasets and deployments: the registry read model, and the commands of their lifecycle."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AllowInfNan, Field, NonNegativeInt, Strict

from domain.application import Recorded as Outcome
from domain.errors import InvalidInput, NotFound
from projections.queries import (
    DATASET_COLUMNS,
    JOB_COLUMNS,
    MODEL_COLUMNS,
    VERSION_COLUMNS,
)

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, ProjectionBehind, reading
from .views import (
    Body,
    DatasetPublic,
    DatasetRecorded,
    IdempotencyKey,
    ModelDetail,
    ModelPublic,
    ModelRecorded,
    Name,
    Text,
    VersionPublic,
    VersionRecorded,
    model_view,
    version_view,
    with_position,
)

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["registry"], responses=RESPONSES)

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: A metric is a JSON number: `true` and `"0.7"` are evidence of nothing, not 1.0 and 0.7.
Metric = Annotated[float, Strict(), AllowInfNan(False)]
MAX_ARTIFACT = 64 * 1024 * 1024
VERSION_KEYS = {"model_id": str, "number": int}


# -- reads ------------------------------------------------------------------------------------------

@router.get("/models", response_model=Page[ModelPublic])
def list_models(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
                limit: Limit = 100) -> dict[str, Any]:
    """Models with their risk tier and number of versions, by name."""
    with reading(services, actor, "model registry", as_of=as_of, cursor=cursor) as r:
        query = r.query().valid_at(r.nid).owned_by(r.owner)
        return r.fetch(query, "registry_models", MODEL_COLUMNS, {"name": str, "model_id": str}, limit)


@router.get("/models/{model_id}", response_model=ModelDetail)
def get_model(services: ServicesDep, actor: CurrentActor, model_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    """A model and its versions, with their status and lineage."""
    services.governance.get_model(actor, model_id)  # not found, or not this data scientist's: refused and recorded
    with reading(services, actor, f"model {model_id}", as_of=as_of) as r:
        found = r.row("registry_models", MODEL_COLUMNS, "model_id", str(model_id), f"model {model_id}")
        versions, _ = r.query().valid_at(r.nid).equal("model_id", str(model_id)).fetch(
            r.conn, "registry_versions", VERSION_COLUMNS, ("number",), None, 10_000)
    return {**found, "version_list": versions}


@router.get("/versions", response_model=Page[VersionPublic])
def list_versions(services: ServicesDep, actor: CurrentActor, model_id: UUID | None = None,
                  status: Annotated[str | None, Query(max_length=20)] = None, as_of: AsOf = None, cursor: Cursor = None,
                  limit: Limit = 100) -> dict[str, Any]:
    """Model versions with status and lineage (training datasets), optionally of one model or in one status."""
    if model_id is not None:
        services.governance.get_model(actor, model_id)
    with reading(services, actor, "model registry", as_of=as_of, cursor=cursor) as r:
        query = r.query().valid_at(r.nid).owned_by(r.owner).equal("model_id", model_id and str(model_id)).equal("status", status)
        return r.fetch(query, "registry_versions", VERSION_COLUMNS, VERSION_KEYS, limit)


@router.get("/versions/{version_id}", response_model=VersionPublic)
def get_version(services: ServicesDep, actor: CurrentActor, version_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    services.governance.get_version(actor, version_id)
    with reading(services, actor, f"model version {version_id}", as_of=as_of) as r:
        return r.row("registry_versions", VERSION_COLUMNS, "version_id", str(version_id), f"version {version_id}")


@router.get("/versions/{version_id}/lineage")
def version_lineage(services: ServicesDep, actor: CurrentActor, version_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    """Where a version came from: the datasets it was trained on (each pinned by its SHA-256), the training job
    (request, winner and leaderboard) and who trained it."""
    services.governance.get_version(actor, version_id)
    with reading(services, actor, f"lineage of version {version_id}", as_of=as_of) as r:
        try:
            version = r.row("registry_versions", VERSION_COLUMNS, "version_id", str(version_id), f"version {version_id}")
        except NotFound:
            if as_of is not None:
                raise
            # the ledger has the version (checked above): the read models have not reached it yet
            raise ProjectionBehind(f"the read models have not reached version {version_id} yet; ask again shortly") from None
        datasets, _ = r.query().add(f"valid_from <= {r.param}", r.nid).among("dataset_id", version["dataset_ids"]).fetch(
            r.conn, "registry_datasets", DATASET_COLUMNS, ("valid_from",), None, 1_000)
        job = None
        if version["job_id"]:
            job = r.row("jobs", JOB_COLUMNS, "job_id", version["job_id"], f"training job {version['job_id']}")
    return {"version_id": str(version_id), "model_id": version["model_id"], "number": version["number"],
            "trained_by": version["trained_by"], "artifact_hash": version["artifact_hash"],
            "origin": "trained" if job else "imported",
            "datasets": [{k: v for k, v in with_position(d).items() if k != "profile"} for d in datasets],
            "training_job": None if job is None else {
                "job_id": job["job_id"], "requested_by": job["requested_by"], "requested_at": job["requested_at"],
                "finished_at": job["finished_at"], "worker": job["worker"], "attempt": job["attempt"],
                "request": job["request"], "result": job["result"], "position": job["created"] - 1}}


@router.get("/versions/{version_id}/artifact", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the skops file"}})
def version_artifact(services: ServicesDep, actor: CurrentActor, version_id: UUID) -> Response:
    """The version's skops artifact, served only if its bytes still hash to what the ledger recorded (to the roles
    that may read the model: data scientists only their own)."""
    version = services.governance.get_version(actor, version_id)
    if services.artifacts is None:
        raise InvalidInput("this service has no artifact store configured")
    data = services.artifacts.get(version.artifact_hash)  # ArtifactError (503) if missing or altered
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{version_id}.skops"', "X-Content-SHA256": version.artifact_hash})


@router.get("/datasets", response_model=Page[DatasetPublic])
def list_datasets(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
                  limit: Limit = 100) -> dict[str, Any]:
    """Registered datasets, in the order they were registered, each pinned by its SHA-256."""
    with reading(services, actor, "datasets", as_of=as_of, cursor=cursor) as r:
        page = r.fetch(r.query().add(f"valid_from <= {r.param}", r.nid), "registry_datasets", DATASET_COLUMNS,
                       {"valid_from": int}, limit)
    return {**page, "items": [with_position(row) for row in page["items"]]}


# -- commands ---------------------------------------------------------------------------------------

class DatasetIn(Body):
    name: Name
    source: Text
    schema_: dict[Name, Literal["integer", "float", "string", "boolean", "category", "datetime"]] = Field(alias="schema")
    row_count: NonNegativeInt
    content_hash: Sha256


@router.post("/datasets", response_model=DatasetRecorded, status_code=201)
def register_dataset(services: ServicesDep, actor: CurrentActor, body: DatasetIn,
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    gov = services.governance
    recorded = gov.register_dataset(actor, name=body.name, source=body.source, schema=body.schema_,
                                    row_count=body.row_count, content_hash=body.content_hash, idempotency_key=idempotency_key)
    d = gov.get_dataset(recorded.id)
    position = recorded.position
    return {"position": position, "dataset": {"dataset_id": str(d.id), "name": d.name, "source": d.source,
                                              "row_count": d.row_count, "content_hash": d.content_hash,
                                              "registered_by": d.registered_by, "position": position}}


class ModelIn(Body):
    name: Name
    description: Text = ""


@router.post("/models", response_model=ModelRecorded, status_code=201)
def register_model(services: ServicesDep, actor: CurrentActor, body: ModelIn,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    gov = services.governance
    recorded = gov.register_model(actor, name=body.name, description=body.description, idempotency_key=idempotency_key)
    return {"position": recorded.position, "model": model_view(gov.get_model(actor, recorded.id))}


class VersionIn(Body):
    artifact_base64: Annotated[str, Field(description="the skops artifact, base64", max_length=MAX_ARTIFACT * 4 // 3 + 4)]
    sha256: Sha256
    estimator: Name
    metrics: dict[Name, Metric] = Field(min_length=1)
    input_schema: dict[Name, Literal["integer", "float", "string", "boolean", "category", "datetime"]] = Field(min_length=1)
    target: Name
    dataset_ids: list[UUID] = Field(min_length=1, max_length=1000)


@router.post("/models/{model_id}/versions", response_model=VersionRecorded, status_code=201)
def import_version(services: ServicesDep, actor: CurrentActor, model_id: UUID, body: VersionIn,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """A version trained elsewhere: the artifact must hash to `sha256`, and its datasets must be registered."""
    try:
        artifact = base64.b64decode(body.artifact_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("artifact_base64 is not valid base64") from None
    recorded = services.governance.import_version(
        actor, model_id, artifact=artifact, declared_hash=body.sha256, estimator=body.estimator, metrics=body.metrics,
        input_schema=body.input_schema, target=body.target, dataset_ids=body.dataset_ids, idempotency_key=idempotency_key)
    return _version_answer(services, actor, recorded)


def _version_answer(services: Any, actor: Any, recorded: Outcome) -> dict[str, Any]:
    return {"position": recorded.position, "version": version_view(services.governance.get_version(actor, recorded.id))}


@router.post("/versions/{version_id}/export", response_model=VersionRecorded)
def export_to_staging(services: ServicesDep, actor: CurrentActor, version_id: UUID,
                      idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Export a trained version to staging (trained → staged)."""
    recorded = services.governance.export_to_staging(actor, version_id, idempotency_key=idempotency_key)
    return _version_answer(services, actor, recorded)


class ReviewIn(Body):
    findings: Text
    batch_run_id: UUID = Field(description="the batch run govledger computed on this version that the approval relies on")
    justification: Text | None = Field(None, description="required (≥ 20 characters) when that run shows drift or a "
                                       "fairness breach beyond the model's risk-tier thresholds")


@router.post("/versions/{version_id}/approve", response_model=VersionRecorded)
def approve(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: ReviewIn,
            idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Approve a validated version (managers; never one you trained or exported; mandatory sections complete) on the
    evidence of a batch run govledger computed, which the approval names."""
    recorded = services.governance.approve(actor, version_id, findings=body.findings, justification=body.justification,
                                           batch_run_id=body.batch_run_id, idempotency_key=idempotency_key)
    return _version_answer(services, actor, recorded)


class RejectIn(Body):
    findings: Text


@router.post("/versions/{version_id}/reject", response_model=VersionRecorded)
def reject(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: RejectIn,
           idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    recorded = services.governance.reject(actor, version_id, findings=body.findings, idempotency_key=idempotency_key)
    return _version_answer(services, actor, recorded)


class ReasonIn(Body):
    reason: Annotated[Text, Field(min_length=1)]


@router.post("/versions/{version_id}/retire", response_model=VersionRecorded)
def retire(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: ReasonIn,
           idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Retire a version (approved, rejected or terminated), recording why."""
    recorded = services.governance.retire(actor, version_id, reason=body.reason, idempotency_key=idempotency_key)
    return _version_answer(services, actor, recorded)

