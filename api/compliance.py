"""Compliance: scores with their breakdown (from the read model, as of any position), config and section edits."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field, StrictFloat, StrictInt

from projections.compliance import MODEL_INPUTS, score_view, scores

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import (
    Body,
    CompliancePublic,
    ComplianceSummary,
    IdempotencyKey,
    ModelRecorded,
    Recorded,
    Text,
    model_view,
)

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["compliance"], responses=RESPONSES)

SectionName = Literal["model_info", "domain_context", "fairness_bias", "provenance", "consent", "risk_classification",
                      "performance", "explainability", "drift_monitoring", "approvals", "deployment", "audit_logging"]
WrittenName = Literal["model_info", "domain_context", "fairness_bias", "provenance", "consent", "risk_classification"]


@router.get("/compliance", response_model=Page[ComplianceSummary])
def list_scores(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
                limit: Limit = 100) -> dict[str, Any]:
    """Every model's compliance score with its breakdown (docs/compliance.md gives the formula); the written
    sections' text is in each model's own compliance answer."""
    with reading(services, actor, "compliance scores", as_of=as_of, cursor=cursor) as r:
        page = r.fetch(r.query().valid_at(r.nid).owned_by(r.owner), "registry_models", MODEL_INPUTS, {"model_id": str}, limit)
        return {**page, "items": scores(r.conn, r.param, r.nid, page["items"])}


@router.get("/models/{model_id}/compliance", response_model=CompliancePublic)
def model_score(services: ServicesDep, actor: CurrentActor, model_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    services.governance.get_model(actor, model_id)
    with reading(services, actor, f"compliance of model {model_id}", as_of=as_of) as r:
        model = r.row("registry_models", MODEL_INPUTS, "model_id", str(model_id), f"model {model_id}")
        return scores(r.conn, r.param, r.nid, [model])[0]


class ScoreRecorded(Recorded):
    compliance: CompliancePublic


def _answer(services: Any, actor: Any, model_id: UUID, position: int | None) -> dict[str, Any]:
    gov = services.governance
    model = gov.get_model(actor, model_id)
    latest = gov.get_version(actor, model.version_ids[-1]) if model.version_ids else None
    view = score_view(model, latest)
    return {"position": position, "compliance": view}


class ConfigIn(Body):
    risk_tier: Literal["high", "medium", "low"]
    applicable: list[SectionName] | None = Field(None, description="default: all twelve")
    mandatory: list[SectionName] | None = Field(None, description="default: by risk tier (docs/compliance.md)")
    # docs/compliance.md promised this over HTTP; without the field the body was refused and no override could be set
    thresholds: dict[str, StrictFloat | StrictInt] | None = Field(
        None, max_length=20, description="overrides of the tier's batch-run thresholds: name → number in (0, 1]")


@router.put("/models/{model_id}/compliance/config", response_model=ScoreRecorded)
def configure(services: ServicesDep, actor: CurrentActor, model_id: UUID, body: ConfigIn,
              idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Set the model's risk tier and which sections apply and are mandatory (compliance managers, superadmin)."""
    recorded = services.governance.configure_compliance(actor, model_id, risk_tier=body.risk_tier, applicable=body.applicable,
                                                        mandatory=body.mandatory, thresholds=body.thresholds,
                                                        idempotency_key=idempotency_key)
    return _answer(services, actor, model_id, recorded.position)


class SectionIn(Body):
    content: Annotated[Text, Field(min_length=1)]


@router.put("/models/{model_id}/compliance/sections/{section}", response_model=ScoreRecorded)
def edit_section(services: ServicesDep, actor: CurrentActor, model_id: UUID, section: WrittenName, body: SectionIn,
                 idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Write one of the six sections people write; the event keeps the text before and after."""
    recorded = services.governance.edit_section(actor, model_id, section, body.content, idempotency_key=idempotency_key)
    return _answer(services, actor, model_id, recorded.position)


@router.post("/models/{model_id}/monitoring", response_model=ModelRecorded)
def register_monitoring(services: ServicesDep, actor: CurrentActor, model_id: UUID,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Register the model for compliance monitoring."""
    gov = services.governance
    recorded = gov.register_monitoring(actor, model_id, idempotency_key=idempotency_key)
    return {"position": recorded.position, "model": model_view(gov.get_model(actor, model_id))}
