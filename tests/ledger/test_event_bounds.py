"""Events are small facts, and no writer can freeze the others: an oversized event is refused before it is sent (413
over HTTP), a multi-MB event no longer hangs PostgreSQL's insert, and a writer stuck inside its transaction is ended
by the session timeouts while the other writers go on."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from domain.application import Governance
from ledger.database import Database
from ledger.errors import EventTooLarge

from .helpers import fill, query


class Wide(Aggregate):
    """An aggregate the domain would never record (its commands bound every field): the recorder's bound is the
    last line, whatever reaches it."""

    @event("Stored")
    def __init__(self, schema: dict[str, str]) -> None:
        self.schema = schema


def wide_dataset(columns: int) -> Wide:
    """About 64 bytes a column."""
    return Wide({f"feature_{i:07d}_{'x' * 40}": "float" for i in range(columns)})


def events(db: Database) -> int:
    return query(db, "SELECT COUNT(*) FROM ledger_events")[0][0]


def finishes_within(seconds: float, work: Any) -> Any:
    """Run `work` in a thread; fail (instead of hanging the suite) if it has not returned in time."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"], time.monotonic() - started


def test_a_20_mb_event_is_refused_before_it_is_sent_and_ordinary_commands_still_succeed_promptly(db):
    fill(db, 2)
    app = Governance(env=db.eventsourcing_env())
    try:
        with pytest.raises(EventTooLarge, match="exceeds the bound of 262144 bytes per event"):
            finishes_within(10, lambda: app.save(wide_dataset(320_000)))  # ~20 MB of schema
    finally:
        app.close()
    assert events(db) == 2
    _, took = finishes_within(10, lambda: fill(db, 3, start=2))
    assert events(db) == 5 and took < 5


def test_a_multi_megabyte_event_commits_on_postgresql_instead_of_hanging_in_the_pipelined_insert(pg_url):
    db = Database.from_url(pg_url)
    app = Governance(env={**db.eventsourcing_env(), "GOVLEDGER_MAX_EVENT_BYTES": str(32 << 20)})
    try:
        finishes_within(30, lambda: app.save(wide_dataset(320_000)))
    finally:
        app.close()
    assert events(db) == 1
    _, took = finishes_within(10, lambda: fill(db, 3, start=1))
    assert events(db) == 4 and took < 5


def test_an_oversized_dataset_over_http_is_413_event_too_large_and_nothing_is_appended(db_url, signer):
    db = Database.from_url(db_url)
    app = Governance(env={**db.eventsourcing_env(), "GOVLEDGER_MAX_EVENT_BYTES": "2048"})
    token = app.create_admin("root").api_key
    admin = app.authenticate(token)
    app.create_user(admin, "dana", "data_scientist")
    key = app.issue_api_key(admin, "dana", "t").api_key
    client = TestClient(create_app(Services(app, db, signer.verifier)))
    before = events(db)
    body = {"name": "wide", "source": "s3://feed/wide.csv", "row_count": 10, "content_hash": "ab" * 32,
            "schema": {f"feature_{i:04d}": "float" for i in range(200)}}
    answer = client.post("/v1/datasets", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "event_too_large", answer.text
    assert events(db) == before
    small = client.post("/v1/datasets", json={**body, "schema": {"a": "float"}}, headers={"Authorization": f"Bearer {key}"})
    assert small.status_code == 201, small.text


def test_a_writer_stuck_inside_its_transaction_cannot_freeze_every_other_writer(pg_url, monkeypatch):
    import ledger.database

    monkeypatch.setitem(ledger.database.SESSION_TIMEOUTS, "lock_timeout", "500ms")
    monkeypatch.setitem(ledger.database.SESSION_TIMEOUTS, "idle_in_transaction_session_timeout", "1s")
    db = Database.from_url(pg_url)
    fill(db, 1)
    with db.connect() as stuck:  # took the insert lock, then its client stalled
        stuck.execute("LOCK TABLE ledger_events IN EXCLUSIVE MODE")
        _, took = finishes_within(20, lambda: fill(db, 2, start=1))
    assert events(db) == 3 and took < 10


def test_every_service_session_on_postgresql_carries_lock_statement_and_idle_timeouts(pg_url):
    db = Database.from_url(pg_url)
    names = ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
    with db.connect() as conn:  # the sealer's, the projector's, verify's and the API's reads
        assert [conn.execute(f"SHOW {n}").fetchone()[0] for n in names] == ["5s", "1min", "1min"]
    app = Governance(env=db.eventsourcing_env())
    try:
        with app.recorder.datastore.get_connection() as conn:  # the sessions that append
            assert [conn.execute(f"SHOW {n}").fetchone()[n] for n in names] == ["5s", "1min", "5s"]
    finally:
        app.close()
