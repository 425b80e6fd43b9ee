"""Routing configs and their keys: which deployed version answers each prediction request.

A manager creates a routing config — ordered rules over the request's input fields, a default version, optional
weighted splits and shadow versions (the language is domain.routing_rules) — and receives its routing key once. The
ledger keeps the key's SHA-256 only, on a RoutingKey of its own (found by the key's public id, like an API key), so
a prediction's caller is authenticated without reading any config. Every change records the whole rule set again
(RoutingConfig.Configured, numbered by revision), with the deployment that serves each version named: the history of
every config reads as it was, and a rollback is one more change that routes back to an earlier revision's rules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import IllegalTransition, InvalidInput, Unauthenticated
from .inputs import check_text
from .routing_rules import RuleSet
from .timed import TimedAggregate

NAMESPACE = UUID("0b6f1a52-7d0e-4c8b-a0d4-3e61c2f9b7a5")
_TOKEN = re.compile(r"^grk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def new_routing_key() -> tuple[str, str]:
    """A fresh key: (public key id, the full key to show once). Format: grk_<16 hex>_<43 base64url>."""
    key_id = secrets.token_hex(8)
    return key_id, f"grk_{key_id}_{secrets.token_urlsafe(32)}"


def parse_routing_key(token: str) -> str:
    """The key id of a well-formed routing key; anything else is refused without saying more."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise Unauthenticated("the routing key is malformed")
    return match.group(1)


def hash_routing_key(token: str) -> str:
    # 256 random bits: a plain SHA-256 cannot be brute-forced, so no salt or KDF is needed.
    return hashlib.sha256(token.encode()).hexdigest()


def routing_key_id_for(key_id: str) -> UUID:
    return uuid5(NAMESPACE, f"routingkey:{key_id}")


def readable_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded rules as a body states them (conditions as JSON again, without the compiled field kinds), so what is
    read back can be sent again."""
    return [{k: (json.loads(v) if k == "when" else v) for k, v in rule.items() if k != "fields"} for rule in rules]


class RoutingConfig(TimedAggregate):
    """A named set of routing rules, its revisions, and the key that selects it."""

    @event("Created")
    def __init__(self, name: str, created_by: UUID, created_by_name: str) -> None:
        self.name = name
        self.created_by = created_by
        self.created_by_name = created_by_name
        self.revision = 0
        self.revisions: list[dict[str, Any]] = []  # every rule set recorded, oldest first
        self.deployments: dict[str, str] = {}  # version id → the deployment that serves it, as of the latest revision
        self.key_id: str | None = None
        self._compiled: RuleSet | None = None

    @classmethod
    def create(cls, *, name: str, by: UUID, by_name: str) -> RoutingConfig:
        return cls(check_text(name, "a routing config's name", max_length=200).strip(), by, by_name)

    @property
    def current(self) -> dict[str, Any] | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def rule_set(self) -> RuleSet:
        """The current rules, compiled once per revision."""
        if self._compiled is None:
            current = self.current
            if current is None:
                raise IllegalTransition(f"routing config {self.id} has no rules yet")
            self._compiled = RuleSet.from_dict(current)
        return self._compiled

    def configure(self, *, name: str, rule_set: RuleSet, deployments: dict[str, str], by: UUID, by_name: str,
                  rollback_of: int | None = None) -> None:
        """Record the whole rule set as the next revision."""
        current = rule_set.as_dict()
        # Each condition is canonical JSON text in the event: events nest at most 8 levels, a condition tree deeper.
        self._configured(check_text(name, "a routing config's name", max_length=200).strip(), current["rules"],
                         current["default_version_id"], list(current["shadow_version_ids"]), dict(deployments),
                         self.revision + 1, by, by_name, rollback_of)

    @event("Configured")
    def _configured(self, name: str, rules: list[dict[str, Any]], default_version_id: str,
                    shadow_version_ids: list[str], deployments: dict[str, str], revision: int, configured_by: UUID,
                    configured_by_name: str, rollback_of: int | None = None) -> None:
        self.name = name
        self.revision = revision
        self.deployments = deployments
        self.revisions.append({"revision": revision, "name": name, "rules": rules,
                               "default_version_id": default_version_id, "shadow_version_ids": shadow_version_ids,
                               "deployments": deployments, "configured_by": configured_by_name,
                               "configured_at": self.modified_on, "rollback_of": rollback_of})
        self._compiled = None

    def revision_body(self, revision: Any) -> dict[str, Any]:
        """An earlier revision's rules, as a body to configure with again (a rollback)."""
        if isinstance(revision, bool) or not isinstance(revision, int) or not 1 <= revision <= self.revision:
            raise InvalidInput(f"routing config {self.name!r} has revisions 1 to {self.revision}, not {str(revision)[:32]}")
        found = self.revisions[revision - 1]
        return {"name": self.name, "rules": readable_rules(found["rules"]),
                "default_version_id": found["default_version_id"], "shadow_version_ids": found["shadow_version_ids"]}

    @event("KeyIssued")
    def key_issued(self, key_id: str, issued_by_name: str) -> None:
        self.key_id = key_id

    @event("KeyRevoked")
    def key_revoked(self, key_id: str, revoked_by_name: str) -> None:
        if self.key_id == key_id:
            self.key_id = None


class RoutingKey(Aggregate):
    """A routing key's SHA-256 and the config it selects; revoked for ever once revoked."""

    @event("Issued")
    def __init__(self, key_id: str, routing_config_id: UUID, key_hash: str, issued_by_name: str) -> None:
        self.key_id = key_id
        self.routing_config_id = routing_config_id
        self.key_hash = key_hash
        self.revoked = False

    @staticmethod
    def create_id(key_id: str, routing_config_id: UUID, key_hash: str, issued_by_name: str) -> UUID:
        return routing_key_id_for(key_id)

    def check_key(self, token: str) -> None:
        if self.revoked or not hmac.compare_digest(self.key_hash, hash_routing_key(token)):
            raise Unauthenticated("the routing key is unknown or revoked")

    def revoke(self, revoked_by_name: str) -> None:
        if not self.revoked:
            self._revoked(revoked_by_name)

    @event("Revoked")
    def _revoked(self, revoked_by_name: str) -> None:
        self.revoked = True
