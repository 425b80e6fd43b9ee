"""The one composition root: settings → database → application, signer and verifier, for the CLI, workers and tests."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import uuid5

from api.deps import Services
from domain.application import Governance
from domain.roles import Actor, Role
from domain.users import NAMESPACE
from ledger.artifacts import LocalArtifactStore
from ledger.connections import ConnectionCredentials
from ledger.database import Database
from ledger.errors import SigningKeyError
from ledger.keys import (
    api_secret,
    connections_key,
    load_public_verifier,
    load_signer,
    load_verifier,
    verifier_path,
)
from ledger.migrate import require_current
from ledger.settings import Settings, load_settings
from ledger.subjects import SubjectVault
from ledger_tools.note import Signer, Verifier

log = logging.getLogger("govledger")

#: Who acts when an operator runs a command on the server itself (the CLI has database access already).
OPERATOR = Actor(uuid5(NAMESPACE, "operator"), "operator", Role.SUPERADMIN)


@dataclass
class Ledger:
    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def db(self) -> Database:
        return Database.from_url(self.settings.resolved_database_url)

    @cached_property
    def artifacts(self) -> LocalArtifactStore:
        return LocalArtifactStore(self.settings.data_dir / "artifacts")

    def targets(self) -> Callable[[str], Any]:
        """The deployment target a name stands for: `local` serves from this service's own processes, the AWS
        targets are made on first use from the GOVLEDGER_AWS_* settings."""
        from workers.targets import make_target
        from workers.targets.local import LocalTarget

        local = LocalTarget(self.artifacts)
        return lambda name: local if name == "local" else make_target(name, self.settings)

    def application(self, *, check_schema: bool = True) -> Governance:
        if check_schema:
            require_current(self.db)
        gov = Governance(env=self.db.eventsourcing_env(), artifacts=self.artifacts, vault=SubjectVault(self.db),
                         credentials=ConnectionCredentials(self.db, lambda: connections_key(self.settings)))
        gov.max_training_budget = self.settings.max_training_budget
        return gov

    @property
    def key_path(self) -> Path:
        return self.settings.resolved_signing_key

    def signer(self) -> Signer:
        """The private key: only the sealer loads it, and production refuses a file other users may read."""
        return load_signer(self.key_path, private=self.settings.mode == "production")

    def verifier(self, trusted_key: Path | None = None) -> Verifier:
        """The key checkpoints must be signed with: a pinned one if given, else the service's own."""
        if trusted_key is not None:
            return load_verifier(trusted_key)
        public = verifier_path(self.key_path)
        if self.key_path.is_file():  # the key the sealer really signs with wins over a loose .vkey file
            return load_verifier(self.key_path)
        if public.is_file():
            return load_verifier(public)
        raise SigningKeyError(
            f"no verifier key: neither {public} nor {self.key_path} exists; pass --key or set GOVLEDGER_SIGNING_KEY"
        )

    def cursor_secret(self) -> bytes:
        secret = api_secret(self.settings)
        if secret is None:
            log.warning("no API secret (GOVLEDGER_API_SECRET or %s): cursors last as long as this process; "
                        "run `govledger init`", self.settings.api_secret_file)
            return secrets.token_bytes(32)
        return secret

    def api_services(self) -> Services:
        """An API node's services: the public key only (the private key stays with the sealer)."""
        receipts = self.settings.resolved_receipt_key
        return Services(governance=self.application(), db=self.db, verifier=load_public_verifier(self.settings.resolved_verify_key),
                        cursor_secret=self.cursor_secret(), artifacts=self.artifacts, settings=self.settings,
                        receipt_signer=load_signer(receipts, private=self.settings.mode == "production") if receipts.exists() else None)
