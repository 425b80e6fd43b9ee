"""Compliance scores as of any position, computed at query time by the domain's own formula (docs/compliance.md)
from the registry rows valid then: the model's configuration and written sections, and its latest version."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from domain.compliance import ComplianceConfig, RiskTier, score
from domain.models import Status

from .queries import Query

MODEL_INPUTS = "model_id, risk_tier, applicable, mandatory, sections"
VERSION_INPUTS = "model_id, number, status, trained_by, created_at, last_run, decision, deployment_target, deployed_at"


def score_view(model: Any, latest: Any | None) -> dict[str, Any]:
    """The score, its breakdown and the written sections, as JSON-ready values (also what a replay is compared with)."""
    result = score(model, latest)
    return {
        "model_id": str(model.id), "score": result.score, "risk_tier": result.risk_tier.value,
        "breakdown": [{"section": s.section, "status": s.status.value, "mandatory": s.mandatory, "weight": s.weight,
                       "points": s.points, "detail": s.detail} for s in result.sections],
        "sections": {name: {"content": w["content"], "edited_by": w["edited_by"], "edited_at": w["edited_at"].isoformat()}
                     for name, w in sorted(model.sections.items())},
    }


def _at(record: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else {**record, "at": datetime.fromisoformat(record["at"])}


def _model(row: dict[str, Any]) -> Any:
    config = ComplianceConfig(RiskTier(row["risk_tier"]), frozenset(row["applicable"]), frozenset(row["mandatory"]))
    sections = {name: {**s, "edited_at": datetime.fromisoformat(s["edited_at"])} for name, s in row["sections"].items()}
    return SimpleNamespace(id=UUID(row["model_id"]), config=config, sections=sections)


def _version(row: dict[str, Any] | None) -> Any | None:
    if row is None:
        return None
    deployment = {"target": row["deployment_target"], "at": datetime.fromisoformat(row["deployed_at"])} if row["deployed_at"] else None
    return SimpleNamespace(number=row["number"], status=Status(row["status"]), trained_by_name=row["trained_by"],
                           created_on=datetime.fromisoformat(row["created_at"]), last_batch_run=_at(row["last_run"]),
                           decision=_at(row["decision"]), deployment=deployment)


def scores(conn: Any, param: str, nid: int, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The compliance view of each model row (MODEL_INPUTS), with its latest version as of notification `nid`."""
    if not models:
        return []
    ids = [m["model_id"] for m in models]
    query = Query(param).valid_at(nid).among("model_id", ids)
    versions, _ = query.fetch(conn, "registry_versions", VERSION_INPUTS, ("model_id", "number"), None, 1_000_000)
    latest = {v["model_id"]: v for v in versions}  # in number order: the last one stays
    return [score_view(_model(m), _version(latest.get(m["model_id"]))) for m in models]
