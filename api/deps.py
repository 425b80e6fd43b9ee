"""Dependencies as Annotated aliases: the services of the composition root, and the authenticated actor."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.application import Governance
from domain.errors import Unauthenticated
from domain.roles import Actor
from ledger.artifacts import LocalArtifactStore
from ledger.database import Database
from ledger.settings import Settings
from ledger_tools.note import Verifier


@dataclass
class Services:
    """What the API needs, built by the composition root (govledger.bootstrap)."""

    governance: Governance
    db: Database
    verifier: Verifier
    #: Signs pagination cursors. Every API process of one service needs the same one (the composition root
    #: reads it from the settings); a random one serves a single process, as in tests.
    cursor_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: Where dataset snapshots and model artifacts live; None serves no ingestion and no downloads.
    artifacts: LocalArtifactStore | None = None
    settings: Settings = field(default_factory=Settings)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer glk_…`")


def _actor(request: Request, services: Annotated[Services, Depends(_services)],
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    known: Actor | None = getattr(request.state, "actor", None)  # authenticated by api.guard before the body was read
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an API key as `Authorization: Bearer <key>`")
    return services.governance.authenticate(credentials.credentials)


ServicesDep = Annotated[Services, Depends(_services)]
CurrentActor = Annotated[Actor, Depends(_actor)]
