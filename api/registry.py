"""GET /v1/registry/versions: model versions and their status, now or as of any ledger position, from the projection."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from domain.roles import Action, Role
from ledger.errors import InvalidArgument, LedgerError
from projections.registry import position_at, versions_as_of
from projections.runner import tracked

from .deps import CurrentActor, ServicesDep

router = APIRouter(prefix="/v1/registry", tags=["registry"])


class ProjectionBehind(LedgerError):
    code = "projection_behind"


class VersionPublic(BaseModel):
    version_id: str
    model_id: str
    number: int
    status: str
    trained_by: str
    artifact_hash: str


class VersionsPublic(BaseModel):
    as_of_position: int
    items: list[VersionPublic]
    next_offset: int | None


def _position(conn: Any, param: str, as_of: str) -> int:
    if as_of.isdigit():
        return int(as_of)
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise InvalidArgument(f"as_of {as_of!r} is neither a ledger position nor an ISO 8601 time") from None
    return position_at(conn, param, moment) - 1


@router.get("/versions", response_model=VersionsPublic)
def versions(
    services: ServicesDep,
    actor: CurrentActor,
    model_id: UUID | None = None,
    as_of: Annotated[str | None, Query(description="a ledger position (0, 1, …) or an ISO 8601 time: answer as things stood then")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    gov, db = services.governance, services.db
    gov.authorize(actor, Action.READ, "model registry")
    if model_id is not None:
        gov.get_model(actor, model_id)  # not found, or not this data scientist's model
    with db.connect() as conn:
        projected = tracked(conn, db)
        last = int(conn.execute(f"SELECT COALESCE(MAX({db.nid_column}), 0) FROM ledger_events").fetchone()[0])
        position = projected - 1 if as_of is None else _position(conn, db.param(), as_of)
        if position >= last:
            raise InvalidArgument(f"position {position} is beyond the end of the ledger ({last} events)")
        if position >= projected:
            raise ProjectionBehind(f"the registry has caught up to position {projected - 1}; ask again shortly")
        rows = versions_as_of(conn, db.param(), position + 1, str(model_id) if model_id else None)
        if actor.role is Role.DATA_SCIENTIST and model_id is None:
            owned = {r[0] for r in conn.execute(f"SELECT model_id FROM registry_models WHERE owner = {db.param()}",
                                                (str(actor.user_id),)).fetchall()}
            rows = [r for r in rows if r["model_id"] in owned]
    page = rows[offset : offset + limit]
    return {"as_of_position": position, "items": page, "next_offset": offset + limit if offset + limit < len(rows) else None}
