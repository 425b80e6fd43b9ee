"""Batch runs: requested for a version on a dataset (202 with a job id at once), computed by a batch worker, their
summary and their reports (each served only if it still hashes to what the ledger recorded)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import Field, StrictBool, StrictInt

from domain.batch import BatchRun
from domain.errors import InvalidInput, NotFound

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .jobs import Column, JobAccepted
from .views import Body, IdempotencyKey, Name

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["batch runs"], responses=RESPONSES)
MEDIA = {"predictions": "text/csv"}


class BatchRunIn(Body):
    dataset_id: UUID
    label_column: Column | None = Field(None, description="the column of true outcomes, for performance and fairness rates")
    protected_attributes: list[Column] = Field(default_factory=list, max_length=100,
                                               description="columns whose groups fairness is measured across")
    favourable_outcome: StrictBool | StrictInt | Name | None = Field(
        None, description="the class that is good for the person scored (e.g. false for a default model): fairness "
                          "rates are of that outcome; by default the version's positive class")


@router.post("/versions/{version_id}/batch-runs", response_model=JobAccepted, status_code=202)
def request_batch_run(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: BatchRunIn,
                      idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Queue a batch run of a staged or validated version on a dataset: a batch worker scores every row and computes
    predictions, drift, explanations, fairness and performance. Follow it at /v1/jobs/{job_id}."""
    recorded = services.governance.request_batch_run(
        actor, version_id, dataset_id=body.dataset_id, label_column=body.label_column,
        protected_attributes=body.protected_attributes, favourable_outcome=body.favourable_outcome,
        idempotency_key=idempotency_key)
    return {"job_id": str(recorded.id), "kind": "batch_inference", "state": "queued", "position": recorded.position}


def run_view(run: BatchRun) -> dict[str, Any]:
    result = run.result or {}
    return {"batch_run_id": str(run.id), "version_id": str(run.version_id), "model_id": str(run.model_id),
            "dataset_id": str(run.dataset_id), "dataset_hash": run.dataset_hash, "label_column": run.label_column,
            "protected_attributes": run.protected_attributes, "favourable_outcome": run.favourable_outcome,
            "thresholds": run.thresholds, "state": run.state.value,
            "requested_by": run.requested_by_name, "rows": result.get("rows"), "summary": result.get("summary"),
            "reports": result.get("report_hashes"), "drift_detected": result.get("drift_detected"),
            "fairness_breach": result.get("fairness_breach"), "error": run.error}


@router.get("/batch-runs/{batch_run_id}")
def get_batch_run(services: ServicesDep, actor: CurrentActor, batch_run_id: UUID) -> dict[str, Any]:
    """A run's state and, once completed, its summary (performance, drift, fairness, explanations) and the SHA-256 of
    each report."""
    return run_view(services.governance.get_batch_run(actor, batch_run_id))


@router.get("/batch-runs/{batch_run_id}/reports/{name}", response_class=Response,
            responses={200: {"content": {"application/json": {}, "text/csv": {}}, "description": "the report"}})
def get_report(services: ServicesDep, actor: CurrentActor, batch_run_id: UUID,
               name: Annotated[Literal["predictions", "drift", "explanations", "fairness", "performance"], Path()]) -> Response:
    """One report of a completed run, served only if its bytes still hash to the SHA-256 the ledger recorded."""
    run = services.governance.get_batch_run(actor, batch_run_id)
    hashes = (run.result or {}).get("report_hashes") or {}
    if name not in hashes:
        raise NotFound(f"batch run {batch_run_id} has no {name} report (it is {run.state.value})")
    if services.artifacts is None:
        raise InvalidInput("this service has no artifact store configured")
    data = services.artifacts.get(hashes[name])  # ArtifactError (503) when missing or altered
    return Response(data, media_type=MEDIA.get(name, "application/json"),
                    headers={"X-Content-SHA256": hashes[name],
                             "Content-Disposition": f'attachment; filename="{batch_run_id}-{name}.{"csv" if name in MEDIA else "json"}"'})
