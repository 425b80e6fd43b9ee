"""Roles, actions and the permission matrix: which role may take which action."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from .errors import Forbidden, InvalidInput


class Role(StrEnum):
    SUPERADMIN = "superadmin"
    MANAGER = "manager"
    COMPLIANCE_MANAGER = "compliance_manager"
    DATA_SCIENTIST = "data_scientist"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"unknown role {value!r}; roles are {', '.join(r.value for r in cls)}") from None


class Action(StrEnum):
    MANAGE_USERS = "manage users, roles and API keys"
    TRAIN = "ingest data, train and export to staging"
    RUN_BATCH_INFERENCE = "run batch inference"
    EDIT_COMPLIANCE = "edit compliance sections"
    CONFIGURE_COMPLIANCE = "set a compliance config"
    APPROVE = "approve or reject a model version"
    DEPLOY = "deploy, terminate and change routing"
    REGISTER_MONITORING = "register a model for compliance monitoring"
    READ = "read registry, jobs, reports and audit trail"
    TIME_TRAVEL = "time-travel queries and verifiable exports"
    REPORT = "generate audit reports"
    MANAGE_CONNECTIONS = "register data connections"
    LIST_CONNECTIONS = "list data connections"
    READ_ROUTING = "read routing configs"


S, M, C, D, A = Role.SUPERADMIN, Role.MANAGER, Role.COMPLIANCE_MANAGER, Role.DATA_SCIENTIST, Role.AUDITOR

#: Who may do what, action by action. READ for data scientists is limited to their own models (see `can_read`).
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.MANAGE_USERS: frozenset({S}),
    Action.TRAIN: frozenset({D}),
    Action.RUN_BATCH_INFERENCE: frozenset({M, D}),
    Action.EDIT_COMPLIANCE: frozenset({M, C, D}),
    Action.CONFIGURE_COMPLIANCE: frozenset({S, C}),
    Action.APPROVE: frozenset({M}),
    Action.DEPLOY: frozenset({M}),
    Action.REGISTER_MONITORING: frozenset({S, M, C}),
    Action.READ: frozenset({S, M, C, D, A}),
    Action.TIME_TRAVEL: frozenset({S, C, A}),
    Action.REPORT: frozenset({S, M, C, A}),
    Action.MANAGE_CONNECTIONS: frozenset({S}),
    #: Data scientists name a connection to ingest from; the URL (and its password) is never answered to anyone.
    Action.LIST_CONNECTIONS: frozenset({S, D}),
    #: Routing configs span every model: data scientists, who read only their own models, do not read them.
    Action.READ_ROUTING: frozenset({S, M, C, A}),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: an authenticated user and their one role."""

    user_id: UUID
    username: str
    role: Role


def allowed(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action]


def check_allowed(actor: Actor, action: Action) -> None:
    if not allowed(actor.role, action):
        raise Forbidden(f"{actor.username} ({actor.role}) may not {action}")


def check_can_read(actor: Actor, owner: UUID) -> None:
    """Everyone reads the registry, except that data scientists read only the models they own."""
    check_allowed(actor, Action.READ)
    if actor.role is Role.DATA_SCIENTIST and actor.user_id != owner:
        raise Forbidden(f"{actor.username} (data_scientist) may read only the models they own")


def check_owns(actor: Actor, owner: UUID) -> None:
    """Data scientists work only on the models they own; every other role the action allows works on any model."""
    if actor.role is Role.DATA_SCIENTIST and actor.user_id != owner:
        raise Forbidden(f"{actor.username} (data_scientist) may change only the models they own")
