"""Routing configs: created with their routing key (shown once), replaced whole, rolled back to an earlier revision,
read as of any position, and their keys rotated or revoked. Managers change them; every reader but data scientists
(configs span every model) reads them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictInt

from domain.roles import Action
from domain.routing import RoutingConfig, readable_rules
from ledger.errors import InvalidArgument
from projections.predictions import traffic
from projections.queries import ROUTING_COLUMNS

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import Body, IdempotencyKey, Name, with_position

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["routing"], responses=RESPONSES)

CONDITION = ('{"all": [CONDITION, …]}, {"any": [CONDITION, …]} or {"field", "op": "eq|ne|lt|le|gt|ge|in|not_in|is_null", '
             '"value"}')


class RoutingConfigIn(Body):
    name: Name
    rules: list[dict[str, Any]] = Field(default_factory=list, max_length=100, description=(
        'ordered; the first whose condition holds answers: {"name", "when": CONDITION, "version_id"} or {"name", '
        f'"when": CONDITION, "split": [{{"version_id", "weight"}}, …]}} (weights sum to 100), where CONDITION is {CONDITION}'))
    default_version_id: str = Field(max_length=64, description="answers when no rule holds")
    shadow_version_ids: list[str] = Field(default_factory=list, max_length=5,
                                          description="scored and recorded on every request, never answered")

    def rule_body(self) -> dict[str, Any]:
        return self.model_dump()


class RoutingConfigCreated(BaseModel):
    routing_config_id: str
    routing_key: str | None = Field(description="shown this once: the ledger keeps only its SHA-256 (null when a repeat "
                                                "with the same idempotency key answers)")
    key_id: str
    revision: int
    position: int | None


class RoutingConfigPublic(BaseModel):
    routing_config_id: str
    name: str
    revision: int
    rule_set: dict[str, Any] | None = Field(description="rules, default_version_id, shadow_version_ids, and deployments: "
                                                        "the deployment serving each version")
    key_id: str | None = Field(description="the id of the key that selects it (null: revoked, no key works)")
    created_by: str
    created_at: str
    configured_by: str | None
    configured_at: str | None
    position: int | None = None


class RevisionPublic(BaseModel):
    revision: int
    name: str
    rule_set: dict[str, Any]
    configured_by: str
    configured_at: str
    rollback_of: int | None


class RollbackIn(Body):
    revision: StrictInt = Field(ge=1, description="the earlier revision whose rules to route by again")


class KeyIssued(BaseModel):
    routing_config_id: str
    routing_key: str | None = Field(description="shown this once; the previous key stops working (null when a repeat "
                                                "with the same idempotency key answers)")
    key_id: str
    position: int | None


@router.post("/routing-configs", response_model=RoutingConfigCreated, status_code=201)
def create_routing_config(services: ServicesDep, actor: CurrentActor, body: RoutingConfigIn,
                          idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Create a routing config (managers only), checked against the versions it names: each must be served by an
    active deployment, and each field a rule reads an input of the versions it routes to. Its routing key is
    answered this once (a repeat with the same idempotency key answers no key)."""
    recorded = services.governance.create_routing_config(actor, body=body.rule_body(), idempotency_key=idempotency_key)
    config = services.governance.routing_config(recorded.id)
    return {"routing_config_id": str(recorded.id), "routing_key": recorded.api_key, "key_id": recorded.key_id,
            "revision": config.revision, "position": recorded.position}


@router.put("/routing-configs/{routing_config_id}", response_model=RoutingConfigPublic)
def replace_routing_config(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID, body: RoutingConfigIn,
                           idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Replace the whole rule set (the next revision); the key stays."""
    recorded = services.governance.update_routing_config(actor, routing_config_id, body=body.rule_body(),
                                                         idempotency_key=idempotency_key)
    return {**config_view(services.governance.routing_config(routing_config_id)), "position": recorded.position}


@router.post("/routing-configs/{routing_config_id}/rollback", response_model=RoutingConfigPublic)
def roll_back(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID, body: RollbackIn,
              idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Route as an earlier revision did, checked against today's deployments: recorded as the next revision."""
    recorded = services.governance.roll_back_routing_config(actor, routing_config_id, revision=body.revision,
                                                            idempotency_key=idempotency_key)
    return {**config_view(services.governance.routing_config(routing_config_id)), "position": recorded.position}


@router.get("/routing-configs", response_model=Page[RoutingConfigPublic])
def list_routing_configs(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
                         limit: Limit = 100) -> dict[str, Any]:
    """Routing configs, oldest first, each at its revision as of the position answered at."""
    services.governance.authorize_routing_reads(actor)
    with reading(services, actor, "routing configs", as_of=as_of, cursor=cursor) as r:
        page = r.fetch(r.query().valid_at(r.nid), "routing_configs", ROUTING_COLUMNS,
                       {"created": int, "routing_config_id": str}, limit)
    return {**page, "items": [_row(row) for row in page["items"]]}


@router.get("/routing-configs/{routing_config_id}", response_model=RoutingConfigPublic)
def get_routing_config(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID,
                       as_of: AsOf = None) -> dict[str, Any]:
    """One routing config: now from the ledger itself, or as it stood at `as_of`."""
    config = services.governance.get_routing_config(actor, routing_config_id)
    if as_of is None:
        return config_view(config)
    with reading(services, actor, f"routing config {routing_config_id}", as_of=as_of) as r:
        return _row(r.row("routing_configs", ROUTING_COLUMNS, "routing_config_id", str(routing_config_id),
                          f"routing config {routing_config_id}"))


@router.get("/routing-configs/{routing_config_id}/history", response_model=list[RevisionPublic])
def routing_history(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID) -> list[dict[str, Any]]:
    """Every revision of the config, oldest first: who changed the rules, when, and to what."""
    config = services.governance.get_routing_config(actor, routing_config_id)
    return [{"revision": r["revision"], "name": r["name"], "rule_set": _rule_set(r), "configured_by": r["configured_by"],
             "configured_at": r["configured_at"].isoformat(), "rollback_of": r["rollback_of"]} for r in config.revisions]


@router.post("/routing-configs/{routing_config_id}/key", response_model=KeyIssued, status_code=201)
def rotate_key(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID,
               idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Issue a new routing key (answered this once); the previous key stops working in the same transaction."""
    recorded = services.governance.rotate_routing_key(actor, routing_config_id, idempotency_key=idempotency_key)
    return {"routing_config_id": str(routing_config_id), "routing_key": recorded.api_key,
            "key_id": recorded.key_id, "position": recorded.position}


@router.delete("/routing-configs/{routing_config_id}/key", response_model=RoutingConfigPublic)
def revoke_key(services: ServicesDep, actor: CurrentActor, routing_config_id: UUID,
               idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Revoke the config's key: predictions through it are refused (401) until a new key is issued."""
    recorded = services.governance.revoke_routing_key(actor, routing_config_id, idempotency_key=idempotency_key)
    return {**config_view(services.governance.routing_config(routing_config_id)), "position": recorded.position}


def _rule_set(revision: dict[str, Any]) -> dict[str, Any]:
    return {"rules": readable_rules(revision["rules"]),
            "default_version_id": revision["default_version_id"],
            "shadow_version_ids": revision["shadow_version_ids"], "deployments": revision["deployments"]}


def config_view(config: RoutingConfig) -> dict[str, Any]:
    current = config.current
    return {"routing_config_id": str(config.id), "name": config.name, "revision": config.revision,
            "rule_set": _rule_set(current) if current else None, "key_id": config.key_id,
            "created_by": config.created_by_name,
            "created_at": config.created_on.isoformat(),
            "configured_by": current["configured_by"] if current else None,
            "configured_at": current["configured_at"].isoformat() if current else None, "position": None}


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in with_position(row).items() if k != "created"}


class TrafficPublic(BaseModel):
    as_of_position: int
    routing_config_id: str | None
    predictions: int = Field(description="answered predictions in the period (shadow scores not included)")
    shadow_predictions: int
    by_version: list[dict[str, Any]] = Field(description="each version's answered predictions and share")
    by_size: list[dict[str, Any]] = Field(description="each target and size: answered and shadow predictions, share, cost")
    prices_per_1000: dict[str, float]
    cost: float = Field(description="estimated: every prediction served (shadow scores too) at its deployment size's price")
    cost_all_at_dearest_size: float = Field(description="the same traffic all served at the dearest size in use")
    dearest_size: str
    saving: float = Field(description="what the routing saved: cost_all_at_dearest_size − cost")
    from_: str = Field(alias="from")
    to: str


@router.get("/routing-traffic", response_model=TrafficPublic, response_model_by_alias=True)
def routing_traffic(services: ServicesDep, actor: CurrentActor, from_: Annotated[date, Query(alias="from")],
                    to: Annotated[date, Query(description="the last day of the period, inclusive")],
                    routing_config_id: UUID | None = None, as_of: AsOf = None) -> dict[str, Any]:
    """For a period (UTC days, both inclusive): the share of predictions each version and each target size answered,
    and their estimated cost from the price table (GOVLEDGER_PRICES_PER_1000) against the same traffic at the dearest
    size in use: what the routing saves."""
    if to < from_:
        raise InvalidArgument(f"the period ends ({to}) before it starts ({from_})")
    services.governance.authorize_routing_reads(actor)
    start, end = f"{from_.isoformat()}T00:00:00", f"{(to + timedelta(days=1)).isoformat()}T00:00:00"
    with reading(services, actor, "routing traffic", as_of=as_of, allowed=Action.READ_ROUTING) as r:
        found = traffic(r.conn, r.param, nid=r.nid, start=start, end=end,
                        config_id=routing_config_id and str(routing_config_id), prices=services.settings.price_table)
    return {**found, "as_of_position": r.position, "from": from_.isoformat(), "to": to.isoformat()}
