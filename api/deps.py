"""Dependencies as Annotated aliases: the services of the composition root, and the authenticated actor."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.application import Governance
from domain.errors import Unauthenticated
from domain.roles import Actor
from ledger.artifacts import LocalArtifactStore
from ledger.database import Database
from ledger.settings import Settings
from ledger.events import first_position, stored_leaf
from ledger_tools.note import Signer, Verifier


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
    #: Signs prediction receipts: this service's receipt key (not the log's checkpoint key, which only the sealer holds).
    receipt_signer: Signer | None = field(default=None, repr=False)
    _serving: Any = field(default=None, repr=False)
    _committer: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def serving(self) -> Any:
        """The prediction endpoint's caches and models (made on first use)."""
        from .serving import Serving

        with self._lock:
            if self._serving is None:
                self._serving = Serving(self.governance, self.artifacts, max_dataset_bytes=self.settings.max_dataset_bytes)
            return self._serving

    def committer(self) -> Any:
        """The group committer of prediction records (one writer thread, made on first use)."""
        from ledger.group_commit import GroupCommitter

        with self._lock:
            if self._committer is None:
                self._committer = GroupCommitter(self.governance)
            return self._committer

    def position_of(self, aggregate_id: Any) -> int:
        """The ledger position of an aggregate's first event."""
        with self.db.connect() as conn:
            return first_position(self.db, conn, aggregate_id)

    def leaf_of(self, position: int) -> bytes:
        """The leaf hash stored with the event at a position."""
        with self.db.connect() as conn:
            return stored_leaf(self.db, conn, position)


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
