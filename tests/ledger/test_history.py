"""Any aggregate can be read as it was at a version or a point in time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.domain import Aggregate, event

from domain.application import Governance
from ledger.history import HistoryError, aggregate_as_of


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.limit = 0

    @event("LimitSet")
    def set_limit(self, limit: int) -> None:
        self.limit = limit


def test_an_aggregate_reads_as_it_was_at_each_version_and_time(db):
    app = Governance(env=db.eventsourcing_env())
    account = Account("ana")
    app.save(account)
    for limit in (100, 250, 900):
        time.sleep(0.01)
        account.set_limit(limit)
        app.save(account)
    events = list(app.repository.event_store.get(account.id))
    assert aggregate_as_of(app, account.id, version=2).limit == 100
    assert aggregate_as_of(app, account.id, at=events[2].timestamp).limit == 250
    assert aggregate_as_of(app, account.id, at=events[2].timestamp + timedelta(microseconds=1)).limit == 250
    assert aggregate_as_of(app, account.id).limit == 900
    with pytest.raises(HistoryError, match="did not exist"):
        aggregate_as_of(app, account.id, at=datetime(2000, 1, 1, tzinfo=UTC))
    app.close()
