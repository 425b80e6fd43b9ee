"""Read an aggregate as it was at a version or at a point in time, by replaying its own events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from .errors import LedgerError


class HistoryError(LedgerError):
    code = "not_found"


def aggregate_as_of(app: Application[Any], aggregate_id: UUID, *, version: int | None = None,
                    at: datetime | None = None) -> Any:
    """The aggregate at `version`, or as of its last event at or before `at` (both: the earlier)."""
    if at is not None:
        last = None
        for e in app.repository.event_store.get(aggregate_id):
            if e.timestamp > at:
                break
            last = e.originator_version
        if last is None:
            raise HistoryError(f"aggregate {aggregate_id} did not exist at {at.isoformat()}")
        version = last if version is None else min(version, last)
    try:
        aggregate = app.repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        raise HistoryError(f"no aggregate {aggregate_id}" + (f" at version {version}" if version is not None else "")) from None
    if version is not None and aggregate.version < version:  # the repository answers the latest version instead
        raise HistoryError(f"aggregate {aggregate_id} has no version {version}; its last is {aggregate.version}")
    return aggregate
