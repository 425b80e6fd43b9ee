"""Models, versions, datasets and deployments: the registry read model, and the commands of their lifecycle."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field, FiniteFloat, NonNegativeInt, PositiveInt

from domain.errors import InvalidInput
from projections.queries import DATASET_COLUMNS, MODEL_COLUMNS, VERSION_COLUMNS

from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import (
    Body,
    DatasetPublic,
    DatasetRecorded,
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

router = APIRouter(prefix="/v1", tags=["registry"], responses=RESPONSES)

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
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


@router.get("/deployments", response_model=Page[VersionPublic])
def list_deployments(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
                     limit: Limit = 100) -> dict[str, Any]:
    """Versions that are deployed or were (terminated), with their target."""
    with reading(services, actor, "deployments", as_of=as_of, cursor=cursor) as r:
        query = r.query().valid_at(r.nid).owned_by(r.owner).add("deployment_target IS NOT NULL")
        return r.fetch(query, "registry_versions", VERSION_COLUMNS, VERSION_KEYS, limit)


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
def register_dataset(services: ServicesDep, actor: CurrentActor, body: DatasetIn) -> dict[str, Any]:
    gov = services.governance
    dataset_id = gov.register_dataset(actor, name=body.name, source=body.source, schema=body.schema_,
                                      row_count=body.row_count, content_hash=body.content_hash)
    d = gov.get_dataset(dataset_id)
    position = gov.recorded_position()
    return {"position": position, "dataset": {"dataset_id": str(d.id), "name": d.name, "source": d.source,
                                              "row_count": d.row_count, "content_hash": d.content_hash,
                                              "registered_by": d.registered_by, "position": position}}


class ModelIn(Body):
    name: Name
    description: Text = ""


@router.post("/models", response_model=ModelRecorded, status_code=201)
def register_model(services: ServicesDep, actor: CurrentActor, body: ModelIn) -> dict[str, Any]:
    gov = services.governance
    model_id = gov.register_model(actor, name=body.name, description=body.description)
    return {"position": gov.recorded_position(), "model": model_view(gov.get_model(actor, model_id))}


class VersionIn(Body):
    artifact_base64: Annotated[str, Field(description="the skops artifact, base64", max_length=MAX_ARTIFACT * 4 // 3 + 4)]
    sha256: Sha256
    estimator: Name
    metrics: dict[Name, FiniteFloat] = Field(min_length=1)
    input_schema: dict[Name, Literal["integer", "float", "string", "boolean", "category", "datetime"]] = Field(min_length=1)
    target: Name
    dataset_ids: list[UUID] = Field(min_length=1, max_length=1000)


@router.post("/models/{model_id}/versions", response_model=VersionRecorded, status_code=201)
def import_version(services: ServicesDep, actor: CurrentActor, model_id: UUID, body: VersionIn) -> dict[str, Any]:
    """A version trained elsewhere: the artifact must hash to `sha256`, and its datasets must be registered."""
    try:
        artifact = base64.b64decode(body.artifact_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("artifact_base64 is not valid base64") from None
    gov = services.governance
    version_id = gov.import_version(actor, model_id, artifact=artifact, declared_hash=body.sha256, estimator=body.estimator,
                                    metrics=body.metrics, input_schema=body.input_schema, target=body.target,
                                    dataset_ids=body.dataset_ids)
    return _version_answer(services, actor, version_id)


def _version_answer(services: Any, actor: Any, version_id: UUID) -> dict[str, Any]:
    gov = services.governance
    return {"position": gov.recorded_position(), "version": version_view(gov.get_version(actor, version_id))}


@router.post("/versions/{version_id}/export", response_model=VersionRecorded)
def export_to_staging(services: ServicesDep, actor: CurrentActor, version_id: UUID) -> dict[str, Any]:
    """Export a trained version to staging (trained → staged)."""
    services.governance.export_to_staging(actor, version_id)
    return _version_answer(services, actor, version_id)


class BatchRunIn(Body):
    run_id: Name
    rows: PositiveInt
    metrics: dict[Name, FiniteFloat] = Field(min_length=1)
    report_hashes: dict[Name, Sha256] = Field(description="SHA-256 of each report: predictions, drift, explanations, fairness, performance")
    drift_share: Annotated[float, Field(ge=0, le=1)]
    drift_detected: bool
    fairness_breach: bool


@router.post("/versions/{version_id}/batch-runs", response_model=VersionRecorded, status_code=201)
def record_batch_run(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: BatchRunIn) -> dict[str, Any]:
    """Record the evidence of a completed batch inference run (staged or validated → validated)."""
    services.governance.record_batch_run(actor, version_id, run_id=body.run_id, rows=body.rows, metrics=body.metrics,
                                         report_hashes=body.report_hashes, drift_share=body.drift_share,
                                         drift_detected=body.drift_detected, fairness_breach=body.fairness_breach)
    return _version_answer(services, actor, version_id)


class ReviewIn(Body):
    findings: Text
    justification: Text | None = Field(None, description="required (≥ 20 characters) when the last batch run shows drift or a fairness breach")


@router.post("/versions/{version_id}/approve", response_model=VersionRecorded)
def approve(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: ReviewIn) -> dict[str, Any]:
    """Approve a validated version (managers; never one you trained or exported; mandatory sections complete)."""
    services.governance.approve(actor, version_id, findings=body.findings, justification=body.justification)
    return _version_answer(services, actor, version_id)


class RejectIn(Body):
    findings: Text


@router.post("/versions/{version_id}/reject", response_model=VersionRecorded)
def reject(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: RejectIn) -> dict[str, Any]:
    services.governance.reject(actor, version_id, findings=body.findings)
    return _version_answer(services, actor, version_id)


class DeployIn(Body):
    target: Literal["local"] = "local"


@router.post("/versions/{version_id}/deploy", response_model=VersionRecorded)
def deploy(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: DeployIn) -> dict[str, Any]:
    """Deploy an approved version."""
    services.governance.deploy(actor, version_id, target=body.target)
    return _version_answer(services, actor, version_id)


class ReasonIn(Body):
    reason: Annotated[Text, Field(min_length=1)]


@router.post("/versions/{version_id}/terminate", response_model=VersionRecorded)
def terminate(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: ReasonIn) -> dict[str, Any]:
    """Terminate a deployment; a terminated deployment stays terminated."""
    services.governance.terminate(actor, version_id, reason=body.reason)
    return _version_answer(services, actor, version_id)


@router.post("/versions/{version_id}/retire", response_model=VersionRecorded)
def retire(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: ReasonIn) -> dict[str, Any]:
    """Retire a version (approved, rejected or terminated), recording why."""
    services.governance.retire(actor, version_id, reason=body.reason)
    return _version_answer(services, actor, version_id)

