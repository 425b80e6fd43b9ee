"""Deployments: requested for an approved version (202 with a job id at once), provisioned by a deploy worker, listed
and read as of any position, and terminated (another job: a worker releases what the target created)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from domain.deployments import Deployment
from projections.queries import DEPLOYMENT_COLUMNS

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import Body, IdempotencyKey, Text, with_position

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["deployments"], responses=RESPONSES)

Status = Literal["requested", "provisioning", "active", "failed", "cancelled", "terminating", "termination_failed",
                 "terminated"]


class DeployIn(Body):
    target: Literal["local", "aws-ec2", "aws-asg", "aws-lambda"] = Field(
        "local", description="local: the service's own API processes serve it; aws-ec2: an instance; aws-asg: a launch "
                             "template and Auto Scaling group; aws-lambda: a function")
    size: Literal["small", "medium", "large"] = Field(
        "small", description="concurrency and replicas (local), instance type (EC2), group bounds (ASG), memory (Lambda)")


class DeploymentAccepted(BaseModel):
    job_id: str
    kind: str
    state: str
    deployment_id: str
    position: int | None


class DeploymentPublic(BaseModel):
    deployment_id: str
    version_id: str
    model_id: str
    target: str
    size: str
    status: Status
    artifact_hash: str
    requested_by: str
    requested_at: str
    provisioned_at: str | None
    terminated_at: str | None
    resources: list[dict[str, str]] = Field(description="what the target created: each resource's type and id")
    endpoint: str | None = Field(description="where it serves")
    routed_by: list[str] = Field(description="the routing configs that send it traffic")
    error: dict[str, str] | None = Field(description="why provisioning or the release failed")
    termination_id: str | None = Field(description="the job releasing it, once its termination is requested")
    position: int | None = Field(None, description="the ledger position this state dates from (null: read from the ledger itself)")


@router.post("/versions/{version_id}/deploy", response_model=DeploymentAccepted, status_code=202)
def deploy(services: ServicesDep, actor: CurrentActor, version_id: UUID, body: DeployIn | None = None,
           idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Queue the deployment of an approved version (managers only): a deploy worker provisions it; follow it at
    /v1/jobs/{job_id} (the job id is the deployment id)."""
    body = body or DeployIn()
    recorded = services.governance.request_deployment(actor, version_id, target=body.target, size=body.size,
                                                      idempotency_key=idempotency_key)
    return {"job_id": str(recorded.id), "kind": "deployment", "state": "queued", "deployment_id": str(recorded.id),
            "position": recorded.position}


@router.get("/deployments", response_model=Page[DeploymentPublic])
def list_deployments(services: ServicesDep, actor: CurrentActor, status: Status | None = None,
                     target: Literal["local", "aws-ec2", "aws-asg", "aws-lambda"] | None = None,
                     version_id: UUID | None = None, model_id: UUID | None = None, as_of: AsOf = None,
                     cursor: Cursor = None, limit: Limit = 100) -> dict[str, Any]:
    """Deployments, oldest first, with their status, resources and the routing configs that send them traffic (data
    scientists: their own models')."""
    with reading(services, actor, "deployments", as_of=as_of, cursor=cursor) as r:
        query = (r.query().valid_at(r.nid).owned_by(r.owner).equal("status", status).equal("target", target)
                 .equal("version_id", version_id and str(version_id)).equal("model_id", model_id and str(model_id)))
        page = r.fetch(query, "deployments", DEPLOYMENT_COLUMNS, {"created": int, "deployment_id": str}, limit)
    return {**page, "items": [_row(row) for row in page["items"]]}


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in with_position(row).items() if k != "created"}


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
def get_deployment(services: ServicesDep, actor: CurrentActor, deployment_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    """One deployment: now from the ledger itself, or as it stood at `as_of` from the read model."""
    deployment = services.governance.get_deployment(actor, deployment_id)
    if as_of is None:
        return deployment_view(deployment)
    with reading(services, actor, f"deployment {deployment_id}", as_of=as_of) as r:
        return _row(r.row("deployments", DEPLOYMENT_COLUMNS, "deployment_id", str(deployment_id),
                          f"deployment {deployment_id}"))


def deployment_view(d: Deployment) -> dict[str, Any]:
    termination = d.termination or {}
    return {"deployment_id": str(d.id), "version_id": str(d.version_id), "model_id": str(d.model_id),
            "target": d.target, "size": d.size, "status": d.status.value, "artifact_hash": d.artifact_hash,
            "requested_by": d.requested_by_name, "requested_at": d.created_on.isoformat(),
            "provisioned_at": d.provisioned_at.isoformat() if d.provisioned_at else None,
            "terminated_at": d.modified_on.isoformat() if d.terminated else None, "resources": d.resources,
            "endpoint": d.endpoint, "routed_by": sorted(d.routed_by), "error": termination.get("error") or d.error,
            "termination_id": termination.get("job_id"), "position": None}


class TerminateIn(Body):
    reason: Annotated[Text, Field(min_length=1, max_length=2_000)]


@router.post("/deployments/{deployment_id}/terminate", response_model=DeploymentAccepted, status_code=202)
def terminate(services: ServicesDep, actor: CurrentActor, deployment_id: UUID, body: TerminateIn,
              idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Stop serving at once and queue the release of every resource the target created (managers only); refused
    (409) while a routing config still sends the deployment traffic. Follow the release at /v1/jobs/{job_id}."""
    recorded = services.governance.terminate_deployment(actor, deployment_id, reason=body.reason,
                                                        idempotency_key=idempotency_key)
    return {"job_id": str(recorded.id), "kind": "termination", "state": "queued", "deployment_id": str(deployment_id),
            "position": recorded.position}
