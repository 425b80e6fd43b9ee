"""Shared set-up for the benchmarks: fresh databases and realistic stored events."""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.persistence import StoredEvent  # noqa: E402

from ledger.database import Database  # noqa: E402
from ledger.migrate import migrate  # noqa: E402

PG_BASE = os.environ.get("GOVLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
TOPIC = "domain.datasets:Dataset.Registered"


def fresh_pg(name: str, *, migrated: bool = True) -> Database:
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    db = Database.from_url(f"{PG_BASE}/{name}")
    if migrated:
        migrate(db)
    return db


def drop_pg(name: str) -> None:
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite(directory: Path, name: str, *, migrated: bool = True) -> Database:
    path = directory / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = Database.from_url(f"sqlite:///{path}")
    if migrated:
        migrate(db)
    return db


def stored_events(count: int, rng: random.Random, *, per_aggregate: int = 1) -> list[StoredEvent]:
    """Events shaped like a dataset registration (about 400 bytes of JSON state)."""
    events = []
    oid = uuid.uuid4()
    for i in range(count):
        if i % per_aggregate == 0:
            oid = uuid.uuid4()
        state = json.dumps({
            "name": f"bureau-feed 2026-01-{i % 28 + 1:02d} region {i % 8}", "source": f"s3://feed/part-{i}.csv",
            "schema": {"age": "integer", "income": "float", "debt_ratio": "float", "region": "category"},
            "row_count": rng.randint(100, 100_000), "content_hash": "%064x" % rng.getrandbits(256),
            "registered_by": "ds-1", "timestamp": "2026-11-22T10:00:00.000000+00:00",
        }).encode()
        events.append(StoredEvent(originator_id=oid, originator_version=1 + i % per_aggregate, topic=TOPIC, state=state))
    return events


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)
