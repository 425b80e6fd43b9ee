"""The one guard every command passes through before anything is saved.

A command is a method that decides, and returns what it decided to record (a `Pending`); it never saves. Decorated
with `@command(action, kind, param)`, it runs as: replay the first answer if the caller repeats an idempotency key;
check the actor's role for `action`; run the method, which loads what it acts on and checks ownership and the rules;
check every pending event's fields (`domain.inputs`); save them, with the idempotency record, in one save(). When
the rules refuse, exactly one AccessDenied is saved (naming the refused thing by `kind` and the argument `param`) and
the refusal is raised; invalid input raises before anything is saved. Adding a command is: write the method,
decorate it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ..access import Refusal
from ..errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    NotFound,
    PreconditionFailed,
    Refused,
    SegregationOfDuties,
    printable,
)
from ..inputs import check_events
from ..roles import Action, Actor, check_allowed
from .idempotency import IdempotentRequest, Request, request_hash

T = TypeVar("T")
REFUSALS: dict[str, type[Refused]] = {e.code: e for e in (Forbidden, SegregationOfDuties, IllegalTransition, PreconditionFailed)}


@dataclass(frozen=True)
class Recorded:
    """What a command recorded: the ledger position of its last event (None when it recorded nothing new) and the
    ids it names. `api_key` is shown once and never stored, so a replayed answer has none."""

    position: int | None = None
    id: UUID | None = None
    key_id: str | None = None
    key_destroyed: bool | None = None
    api_key: str | None = field(default=None, repr=False)
    replayed: bool = False

    def stored(self) -> dict[str, Any]:
        """The answer as kept for a repeated request: everything but the position (not known yet) and the secret."""
        return {"id": self.id and str(self.id), "key_id": self.key_id, "key_destroyed": self.key_destroyed}

    @classmethod
    def from_stored(cls, answer: dict[str, Any], position: int | None) -> Recorded:
        ident = answer.get("id")
        return cls(position, UUID(ident) if ident else None, answer.get("key_id"), answer.get("key_destroyed"),
                   replayed=True)


@dataclass(frozen=True)
class Pending:
    """What a command decided to record, and answer; `then` runs once the events are saved (never if not)."""

    aggregates: tuple[Aggregate, ...]
    answer: Recorded = Recorded()
    then: Callable[[], object] | None = None


def pending(*aggregates: Aggregate, then: Callable[[], object] | None = None, **answer: Any) -> Pending:
    return Pending(aggregates, Recorded(**answer), then)


@dataclass(frozen=True)
class Subject:
    """What an action is on, as a refusal records it: a kind ("model_version") and an id."""

    kind: str
    id: Any = None

    def refusal(self, actor: Actor, action: Action, refused: Refused) -> Refusal:
        ident = None if self.id is None else printable(self.id, 200)  # recorded whatever the caller sent
        return Refusal(actor.user_id, actor.username, actor.role.value, action.value, printable(self.kind, 200), ident,
                       refused.code, printable(refused.message))


class Service(Application[UUID]):
    """What every area's service shares: loading aggregates, and the guard's saving and refusing."""

    def _get(self, aggregate_id: UUID, kind: type[T], what: str) -> T:
        try:
            found: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}") from None
        if not isinstance(found, kind):
            raise NotFound(f"no {what} {aggregate_id}")
        return found

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _guarded(self, actor: Actor, action: Action, subject: Subject, run: Callable[[], T],
                 request: Request | None = None) -> T:
        """Check the role, then run; if the rules refuse, record who tried what and why, then raise."""
        try:
            check_allowed(actor, action)
            return run()
        except Refused as refusal:
            refused = subject.refusal(actor, action, refusal)
            record = request.answered(1, {}, {"code": refusal.code, "message": refusal.message}) if request else None
            self._save([refused], record)
            raise

    def authorize(self, actor: Actor, action: Action, what: str, ident: Any = None) -> None:
        """Check an action that has no command of its own (a read, an export); a refusal is recorded."""
        self._guarded(actor, action, Subject(what, ident), lambda: None)

    def _save(self, aggregates: list[Aggregate], record: IdempotentRequest | None) -> int | None:
        """Save in one transaction (the idempotency record first); the position of the last event saved."""
        check_events(e for a in aggregates for e in a.pending_events)
        try:
            recordings = self.save(*([record] if record else []), *aggregates)
        except IntegrityError:
            if record is not None and self._exists(record.id):
                raise _AnsweredMeanwhile from None
            raise Conflict("another command changed this first; reload and try again") from None
        return recordings[-1].notification.id - 1 if recordings else None

    def _commit(self, decided: Pending, request: Request | None) -> Recorded:
        events = sum(len(a.pending_events) for a in decided.aggregates)
        if events == 0:  # nothing new to record, so nothing to remember either
            if decided.then:
                decided.then()
            return decided.answer
        record = request.answered(events, decided.answer.stored()) if request else None
        position = self._save(list(decided.aggregates), record)
        if decided.then:
            decided.then()
        return replace(decided.answer, position=position)

    # -- idempotency ---------------------------------------------------------------------------------

    def _request(self, actor: Actor, key: str | None, command: str, arguments: dict[str, Any]) -> Request | None:
        if key is None:
            return None
        hashed = request_hash(command, self._hashable(actor, command, arguments))
        return Request(actor.user_id, key, command, hashed, self.recorder.max_notification_id() or 0)

    def _hashable(self, actor: Actor, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments as a request's hash covers them. The hash is recorded for ever, so a service whose commands
        take personal data replaces it here with something an erasure makes unverifiable."""
        return arguments

    def _earlier(self, request: Request | None) -> IdempotentRequest | None:
        if request is None:
            return None
        try:
            earlier: IdempotentRequest = self.repository.get(request.id)
        except AggregateNotFoundError:
            return None
        request.check_same(earlier)
        return earlier

    def _replay(self, earlier: IdempotentRequest) -> Recorded:
        """The first answer again: the same refusal, or the same ids at the same position."""
        if earlier.refused is not None:
            raise REFUSALS.get(earlier.refused["code"], Forbidden)(earlier.refused["message"])
        return Recorded.from_stored(earlier.answer, self._position_of(earlier) + earlier.events)

    def _position_of(self, earlier: IdempotentRequest) -> int:
        """The ledger position of the request's own event: the first of its kind and id after `ledger_size`."""
        topic = get_topic(IdempotentRequest.Answered)  # type: ignore[attr-defined]  # made by @event
        start = earlier.ledger_size + 1
        while True:
            found = self.recorder.select_notifications(start=start, limit=100, topics=[topic])
            for notification in found:
                if str(notification.originator_id) == str(earlier.id):
                    return notification.id - 1
            if len(found) < 100:
                raise NotFound(f"the request answered by idempotency record {earlier.id} is not in the ledger")
            start = found[-1].id + 1


class _AnsweredMeanwhile(Exception):
    """A concurrent request with the same idempotency key was saved first."""


def _guard(action: Action, kind: str, param: str | None, *, idempotent: bool) -> Callable[[Callable[..., Any]], Any]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def guarded(self: Service, actor: Actor, *args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
            arguments = signature.bind(self, actor, *args, **kwargs).arguments
            subject = Subject(kind, arguments.get(param) if param else None)
            if not idempotent:
                return self._guarded(actor, action, subject, lambda: method(self, actor, *args, **kwargs))
            request = self._request(actor, idempotency_key, method.__name__,
                                    {k: v for k, v in arguments.items() if k not in ("self", "actor")})
            earlier = self._earlier(request)
            if earlier is not None:
                return self._replay(earlier)
            try:
                decided: Pending = self._guarded(actor, action, subject, lambda: method(self, actor, *args, **kwargs),
                                                 request)
                return self._commit(decided, request)
            except _AnsweredMeanwhile:
                earlier = self._earlier(request)
                assert earlier is not None
                return self._replay(earlier)

        guarded.guarded_action = action  # type: ignore[attr-defined]  # lets tests find every guarded method
        return guarded

    return decorate


def command(action: Action, kind: str, param: str | None = None) -> Callable[[Callable[..., Pending]], Callable[..., Recorded]]:
    """A command that records: `action` is the permission it needs, `kind` and the argument `param` name what it acts on."""
    return _guard(action, kind, param, idempotent=True)


def query(action: Action, kind: str, param: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A read guarded like a command: refused reads are recorded too."""
    return _guard(action, kind, param, idempotent=False)
