"""The audit trail (every event, refused attempts included), filtered, paged and as of any position."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from projections.queries import AUDIT_COLUMNS, utc_text

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import AuditEntry, with_position

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["audit"], responses=RESPONSES)

Filter = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
ACTIONS = Literal["manage_users", "train", "run_batch_inference", "edit_compliance", "configure_compliance", "approve",
                  "deploy", "register_monitoring", "read", "time_travel", "report", "manage_connections",
                  "list_connections", "read_routing", "other"]


def _utc(moment: datetime) -> str:
    return utc_text(moment)


@router.get("/audit-trail", response_model=Page[AuditEntry])
def audit_trail(
    services: ServicesDep, actor: CurrentActor,
    model_id: UUID | None = None,
    user: Annotated[Filter, Query(description="who acted (username)")] = None,
    action: Annotated[ACTIONS | None, Query(description="the action exercised or attempted (the role matrix of docs/api.md)")] = None,
    subject: Annotated[Filter, Query(description="a data subject (a user id, or an erased subject)")] = None,
    outcome: Literal["recorded", "refused"] | None = None,
    since: Annotated[datetime | None, Query(description="events at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="events before this time")] = None,
    order: Literal["asc", "desc"] = "asc",
    as_of: AsOf = None, cursor: Cursor = None, limit: Limit = 100,
) -> dict[str, Any]:
    """Every event, successes and refused attempts, with who acted, on which model or subject, and when."""
    if model_id is not None:
        services.governance.get_model(actor, model_id)
    with reading(services, actor, "audit trail", as_of=as_of, cursor=cursor) as r:
        query = (r.query().add(f"notification_id <= {r.param}", r.nid).owned_by(r.owner)
                 .equal("model_id", model_id and str(model_id)).equal("actor", user).equal("action", action)
                 .equal("data_subject", subject).equal("outcome", outcome))
        if since is not None:
            query.add(f"recorded_at >= {r.param}", _utc(since))
        if until is not None:
            query.add(f"recorded_at < {r.param}", _utc(until))
        page = r.fetch(query, "audit_trail", AUDIT_COLUMNS, {"notification_id": int}, limit, descending=order == "desc")
    return {**page, "items": [with_position(row) for row in page["items"]]}
