"""Which events a bundle holds, chosen one way: a position range, a time range, a model, or a data subject.

Shared by `govledger export` and `GET /v1/exports`, so both choose slices the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.access import Erasure
from domain.application import Governance
from domain.models import Model
from domain.users import User, api_key_id_for

from .database import Database
from .errors import InvalidArgument
from .export import Selection, by_aggregates, by_positions, by_time

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


def _utc(moment: datetime | None, default: datetime) -> datetime:
    if moment is None:
        return default
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _uuid(value: str | UUID, what: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(value)
    except ValueError:
        raise InvalidArgument(f"{value!r} is not {what}") from None


def _get(gov: Governance, aggregate_id: UUID) -> Any:
    try:
        return gov.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


def subject_aggregates(gov: Governance, subject: str) -> list[UUID]:
    """The aggregates about a data subject: the user, their API keys, and the erasure if there was one."""
    user_id = _uuid(subject, "a data subject id (a user id)")
    user = _get(gov, user_id)
    if not isinstance(user, User):  # a bundle must hold the subject's own user aggregate, which its manifest names
        raise InvalidArgument(f"no data subject {subject} in this ledger")
    found = [user_id, *(api_key_id_for(k) for k in user.keys)]
    # The erasure's id is derived from the subject as it was spelled when erased: look up the canonical
    # spelling and the one given, so `--subject` in capitals does not leave the erasure out.
    for spelling in dict.fromkeys((str(user_id), subject)):
        erasure = Erasure.create_id(spelling)
        if erasure not in found and _get(gov, erasure) is not None:
            found.append(erasure)
    return found


def choose(gov: Governance, db: Database, conn: Any, *, from_position: int | None = None, to_position: int | None = None,
           since: datetime | None = None, until: datetime | None = None, model: str | UUID | None = None,
           subject: str | None = None) -> Selection:
    ways = [from_position is not None or to_position is not None, since is not None or until is not None,
            model is not None, subject is not None]
    if sum(ways) != 1:
        raise InvalidArgument("choose exactly one selection: a position range, a time range, a model or a subject")
    if model is not None:
        model_id = _uuid(model, "a model id")
        found = _get(gov, model_id)
        if not isinstance(found, Model):
            raise InvalidArgument(f"no model {model_id}")
        return by_aggregates(db, conn, "model", {"model": str(model_id)}, [model_id, *found.version_ids])
    if subject is not None:
        subject_id = str(_uuid(subject, "a data subject id (a user id)"))  # the manifest names the user aggregate's id
        return by_aggregates(db, conn, "subject", {"subject": subject_id}, subject_aggregates(gov, subject))
    if ways[1]:
        return by_time(db, conn, gov.mapper, _utc(since, EARLIEST), _utc(until, LATEST))
    return by_positions(db, conn, from_position or 0, to_position if to_position is not None else 2**62)
