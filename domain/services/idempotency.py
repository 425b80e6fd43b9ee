"""Idempotency keys: a client whose connection died after the commit retries with the same key and gets the first
answer, and nothing is recorded twice.

A command called with a key saves an `IdempotentRequest` (id derived from the caller and the key) in the same
save() as its own events, so the ledger never holds the events without the key or the key without the events.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ..errors import IdempotencyKeyReused, InvalidInput

NAMESPACE = UUID("0b6f1c3a-8d2e-4f57-9a41-c27e5d8b9f30")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def request_id(caller: UUID, key: str) -> UUID:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput("an idempotency key is 1 to 200 printable ASCII characters, without spaces")
    return uuid5(NAMESPACE, f"{caller}/{key}")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()  # an artifact: its hash identifies it
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    return str(value)


def request_hash(command: str, arguments: dict[str, Any]) -> str:
    """What the request asked: the command and its arguments, canonically (escaped, so any text hashes)."""
    canonical = json.dumps([command, arguments], sort_keys=True, default=_plain, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotentRequest(Aggregate):
    """A request made with an idempotency key, and what it was answered.

    `events` of the command followed this one in the same save, so the command's last event is at this event's
    position + `events`; `ledger_size` (the ledger's size before the request) is where to start looking for it.
    """

    @event("Answered")
    def __init__(self, caller: UUID, key: str, command: str, request_hash: str, ledger_size: int, events: int,
                 answer: dict[str, Any], refused: dict[str, str] | None) -> None:
        self.caller = caller
        self.key = key
        self.command = command
        self.request_hash = request_hash
        self.ledger_size = ledger_size
        self.events = events
        self.answer = answer
        self.refused = refused

    @staticmethod
    def create_id(caller: UUID, key: str, **_: Any) -> UUID:
        return request_id(caller, key)


@dataclass(frozen=True)
class Request:
    """A command's request with its idempotency key, before the command runs."""

    caller: UUID
    key: str
    command: str
    digest: str
    ledger_size: int

    @property
    def id(self) -> UUID:
        return request_id(self.caller, self.key)

    def check_same(self, earlier: IdempotentRequest) -> None:
        if earlier.request_hash != self.digest:
            raise IdempotencyKeyReused(f"idempotency key {self.key!r} was used for a different request "
                                       f"({earlier.command}); use a new key for a new request")

    def answered(self, events: int, answer: dict[str, Any], refused: dict[str, str] | None = None) -> IdempotentRequest:
        return IdempotentRequest(self.caller, self.key, self.command, self.digest, self.ledger_size, events, answer,
                                 refused)
