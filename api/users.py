"""Users, roles and API keys (superadmin only), and erasure of a data subject's personal data."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from domain.roles import Action
from domain.users import user_id_for
from projections.queries import USER_COLUMNS

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, Cursor, Limit, Page, reading
from .views import Body, IdempotencyKey, Name, Recorded, Text, UserPublic

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["users"], responses=RESPONSES)

Username = Annotated[str, Path(max_length=64)]
RoleName = Literal["superadmin", "manager", "compliance_manager", "data_scientist", "auditor"]


class UserRecorded(Recorded):
    user: UserPublic


class KeyPublic(BaseModel):
    key_id: str
    label: str
    issued_at: str
    revoked: bool


class KeyIssued(Recorded):
    key_id: str
    api_key: str | None = Field(description="shown this once; only its hash is stored, so a repeated request (the same "
                                            "Idempotency-Key) answers null: revoke that key and issue another if it was lost")


def _user(services: Any, actor: Any, username: str) -> dict[str, Any]:
    services.governance.authorize(actor, Action.MANAGE_USERS, "user", username)
    user = services.governance.repository.get(user_id_for(username))
    return {"user_id": str(user.id), "username": user.username, "role": str(user.role), "active": user.active}


@router.get("/users", response_model=Page[UserPublic])
def list_users(services: ServicesDep, actor: CurrentActor, as_of: AsOf = None, cursor: Cursor = None,
               limit: Limit = 100) -> dict[str, Any]:
    with reading(services, actor, "users", as_of=as_of, cursor=cursor, allowed=Action.MANAGE_USERS) as r:
        return r.fetch(r.query().valid_at(r.nid), "registry_users", USER_COLUMNS, {"username": str}, limit)


class UserIn(Body):
    username: Annotated[str, Field(max_length=64)]
    role: RoleName
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\x00]+@[^@\x00]+$")] | None = Field(None, description="personal data: stored only encrypted under the user's own subject key")


@router.post("/users", response_model=UserRecorded, status_code=201)
def create_user(services: ServicesDep, actor: CurrentActor, body: UserIn,
                idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    recorded = services.governance.create_user(actor, body.username, body.role, email=body.email,
                                               idempotency_key=idempotency_key)
    return {"position": recorded.position, "user": _user(services, actor, body.username)}


class RoleIn(Body):
    role: RoleName


@router.put("/users/{username}/role", response_model=UserRecorded)
def change_role(services: ServicesDep, actor: CurrentActor, username: Username, body: RoleIn,
                idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """A user holds one role; changing it is recorded with who changed it."""
    recorded = services.governance.change_role(actor, username, body.role, idempotency_key=idempotency_key)
    return {"position": recorded.position, "user": _user(services, actor, username)}


@router.get("/users/{username}/keys", response_model=list[KeyPublic])
def list_keys(services: ServicesDep, actor: CurrentActor, username: Username) -> list[dict[str, Any]]:
    """The user's API keys: ids, labels and whether revoked (never the keys themselves)."""
    keys = services.governance.list_api_keys(actor, username)
    return [{**k, "issued_at": k["issued_at"].isoformat()} for k in keys]


class KeyIn(Body):
    label: Name = ""


@router.post("/users/{username}/keys", response_model=KeyIssued, status_code=201)
def issue_key(services: ServicesDep, actor: CurrentActor, username: Username, body: KeyIn,
              idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    recorded = services.governance.issue_api_key(actor, username, body.label, idempotency_key=idempotency_key)
    return {"position": recorded.position, "key_id": recorded.key_id, "api_key": recorded.api_key}


@router.delete("/keys/{key_id}", response_model=Recorded)
def revoke_key(services: ServicesDep, actor: CurrentActor, key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
               idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Revoke an API key at once: it authenticates nothing from now on."""
    recorded = services.governance.revoke_api_key(actor, key_id, idempotency_key=idempotency_key)
    return {"position": recorded.position}


class ErasureIn(Body):
    reason: Annotated[Text, Field(min_length=1)]


class Erased(Recorded):
    key_destroyed: bool


@router.post("/subjects/{subject}/erasure", response_model=Erased)
def erase_subject(services: ServicesDep, actor: CurrentActor, subject: Annotated[str, Path(max_length=200, pattern=r"^[^\x00/]+$")],
                  body: ErasureIn, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Destroy a data subject's key: their personal data becomes unreadable forever; every proof still verifies.

    The subject must be known (a user of this ledger, one whose key the vault holds, or one already erased): an
    unknown subject is 404 and nothing is recorded. Repeating an erasure records nothing new (position null)."""
    recorded = services.governance.erase_subject(actor, subject, reason=body.reason, idempotency_key=idempotency_key)
    return {"position": recorded.position, "key_destroyed": bool(recorded.key_destroyed)}
