"""Named data connections: superadmins register them; superadmins and data scientists list them. A connection's
URL (with its password) is taken once, stored encrypted outside the ledger, and never answered."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from domain.connections import DataConnection

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .views import Body, IdempotencyKey

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["connections"], responses=RESPONSES)


class ConnectionCreate(Body):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="an identifier, unique")]
    url: Annotated[str, Field(max_length=2_000, description="postgresql://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=…] "
                                                            "or mysql://USER:PASSWORD@HOST:PORT/DATABASE; never answered")]


class ConnectionPublic(BaseModel):
    connection_id: str
    name: str
    kind: str
    host: str
    port: int
    database: str
    active: bool
    position: int | None = Field(description="the ledger position of the registration (of this request's events, "
                                             "for a POST)")


def _public(connection: DataConnection, position: int | None) -> dict[str, Any]:
    return {"connection_id": str(connection.id), "name": connection.name, "kind": connection.kind,
            "host": connection.host, "port": connection.port, "database": connection.database,
            "active": connection.active, "position": position}


@router.post("/connections", response_model=ConnectionPublic, status_code=201)
def register_connection(services: ServicesDep, actor: CurrentActor, body: ConnectionCreate,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Register a connection by name (superadmin). A name is registered once: 409 conflict otherwise."""
    governance: Any = services.governance  # Sources is one of Governance's services
    recorded = governance.register_connection(actor, name=body.name, url=body.url, idempotency_key=idempotency_key)
    return _public(governance.get_connection(body.name), recorded.position)


@router.get("/connections", response_model=list[ConnectionPublic])
def list_connections(services: ServicesDep, actor: CurrentActor) -> list[dict[str, Any]]:
    """Every registered connection, oldest first (superadmins and data scientists): where, never how to log in."""
    governance: Any = services.governance
    return [_public(connection, position) for connection, position in governance.list_connections(actor)]
