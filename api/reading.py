"""Every read: the caller's role, `as_of` (a ledger position, an ISO 8601 time or a date), and keyset cursors.

A cursor pins the position its first page was read at, so paging through a list never mixes two states
of the ledger, however many events arrive meanwhile. Cursors are signed for their caller and list (api.cursors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from domain.errors import NotFound
from domain.roles import Action, Actor, Role
from ledger.errors import InvalidArgument, LedgerError
from projections.queries import Query as RowQuery
from projections.queries import one, position_at
from projections.runner import tracked

from .cursors import CursorSigner, InvalidCursor
from .deps import CurrentActor, Services, ServicesDep

T = TypeVar("T")

AsOf = Annotated[str | None, Query(max_length=64, description="answer as things stood then: a ledger position (0, 1, …), "
                                   "an ISO 8601 time (UTC if no zone), or a date YYYY-MM-DD (the end of that day, UTC)")]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]


class ProjectionBehind(LedgerError):
    code = "projection_behind"


@dataclass(frozen=True)
class Paging:
    """The cursor a caller sent (if any), and the signer of the next one."""

    given: str | None
    signer: CursorSigner


def _cursor(request: Request, services: ServicesDep, actor: CurrentActor,
            cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page, "
                                                "with the same filters; a cursor serves only the caller it was issued to")] = None,
            ) -> Paging:
    """The cursor given (if any) and the signer for the next one, bound to this caller and this list."""
    route = getattr(request.scope.get("route"), "path", request.url.path)
    filters = sorted((k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit"))
    listing = json.dumps([request.method, route, filters])
    caller = f"{actor.user_id} {actor.role.value}"  # a role changed since makes its cursors void
    return Paging(cursor, CursorSigner(services.cursor_secret, caller, listing))


Cursor = Annotated[Paging, Depends(_cursor)]


class Page(BaseModel, Generic[T]):
    as_of_position: int
    items: list[T]
    next_cursor: str | None


@dataclass
class Reading:
    """One read: the connection, the position answered at, and where the page starts."""

    conn: Any
    param: str
    position: int
    after: list[Any] | None
    owner: str | None  # data scientists read only their own models
    paging: Paging | None

    @property
    def nid(self) -> int:
        return self.position + 1

    def query(self) -> RowQuery:
        return RowQuery(self.param)

    def fetch(self, query: RowQuery, table: str, columns: str, keys: dict[str, type], limit: int, *,
              descending: bool = False) -> dict[str, Any]:
        """One page of `table` ordered by `keys` (column → its type, which a cursor's key must match)."""
        if self.after is not None and (len(self.after) != len(keys)
                                       or not all(isinstance(v, t) for v, t in zip(self.after, keys.values()))):
            raise InvalidCursor("this cursor belongs to a different list; start again without it")
        rows, next_key = query.fetch(self.conn, table, columns, tuple(keys), self.after, limit, descending=descending)
        return self.page(rows, next_key)

    def row(self, table: str, columns: str, key: str, ident: str, what: str) -> dict[str, Any]:
        """The versioned row of `ident` as of this reading's position, or 404 if it did not exist then."""
        found = one(self.conn, self.query().valid_at(self.nid).equal(key, ident), table, columns, (key,))
        if found is None:
            raise NotFound(f"{what} did not exist at position {self.position}")
        return found

    def page(self, rows: list[dict[str, Any]], next_key: list[Any] | None) -> dict[str, Any]:
        cursor = None
        if next_key is not None:
            assert self.paging is not None, "a paged list takes the Cursor dependency"
            cursor = self.paging.signer.issue(self.position, next_key)
        return {"as_of_position": self.position, "items": rows, "next_cursor": cursor}


def _as_of(conn: Any, param: str, as_of: str) -> int:
    """A position as given; a time (UTC if it names no zone); a plain date as the end of that day, UTC."""
    if as_of.isascii() and as_of.isdigit():
        return int(as_of)
    try:
        if not (as_of.isascii() and as_of.isprintable()):  # fromisoformat takes a time followed by a NUL
            raise ValueError(as_of)
        if DATE.fullmatch(as_of):
            moment = datetime.combine(date.fromisoformat(as_of), time.max, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise InvalidArgument(f"as_of {as_of!r} is neither a ledger position, an ISO 8601 time nor a date (YYYY-MM-DD)") from None
    found = position_at(conn, param, moment) - 1
    if found < 0:
        raise InvalidArgument(f"the ledger holds no event at or before {as_of}")
    return found


@contextmanager
def reading(services: Services, actor: Actor, what: str, *, as_of: str | None = None, cursor: Paging | None = None,
            allowed: Action = Action.READ) -> Iterator[Reading]:
    """Check the caller may read `what` (and time-travel, with as_of), then fix the position to answer at."""
    gov, db = services.governance, services.db
    gov.authorize(actor, allowed, what)
    if as_of is not None:
        gov.authorize(actor, Action.TIME_TRAVEL, f"{what} as of {as_of[:64]}")
    with db.connect() as conn:
        projected = tracked(conn, db)
        last = db.events(conn)
        after = None
        position = projected - 1 if as_of is None else _as_of(conn, db.param(), as_of)
        if cursor is not None and cursor.given is not None:
            pinned, after = cursor.signer.open(cursor.given)
            if as_of is not None and pinned != position:
                raise InvalidCursor("this cursor belongs to a different as_of; start again without it")
            position = pinned
        if position >= last:
            raise InvalidArgument(f"position {position} is beyond the end of the ledger ({last} events)")
        if position >= projected:
            raise ProjectionBehind(f"the read models have reached position {projected - 1}; ask again shortly")
        owner = str(actor.user_id) if actor.role is Role.DATA_SCIENTIST else None
        yield Reading(conn, db.param(), position, after, owner, cursor)
