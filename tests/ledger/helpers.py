"""Helpers for ledger tests: fill a store through the real application, and tamper with it as an attacker would."""

from __future__ import annotations

import hashlib
from typing import Any

from domain.application import Governance
from domain.datasets import Dataset
from ledger.database import Database
from ledger.sealer import seal_pending

TABLES = ["ledger_events", "ledger_tree_nodes", "ledger_checkpoints"]


def fill(db: Database, count: int, *, start: int = 0) -> list[Any]:
    """Register `count` datasets, one transaction each; return their ids."""
    app = Governance(env=db.eventsourcing_env())
    try:
        ids = []
        for i in range(start, start + count):
            dataset = Dataset.register(
                name=f"partition {i}", source=f"s3://feed/part-{i}.csv", schema={"age": "integer", "income": "float"},
                row_count=100 + i, content_hash=hashlib.sha256(str(i).encode()).hexdigest(), registered_by="ds-1")
            app.save(dataset)
            ids.append(dataset.id)
        return ids
    finally:
        app.close()


def seal_all(db: Database, signer: Any) -> int:
    with db.connect() as conn:
        last = seal_pending(db, conn, signer)
        return last.size if last else 0


def sealed_in_steps(db: Database, signer: Any, *counts: int) -> Database:
    """Fill and seal `counts[0]` events, then `counts[1]` more, …: one checkpoint per step."""
    start = 0
    for count in counts:
        fill(db, count, start=start)
        seal_all(db, signer)
        start += count
    return db


def as_attacker(db: Database, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run SQL with the append-only triggers out of the way, as a superuser or file owner could."""
    with db.connect() as conn:
        if db.is_sqlite:
            conn.execute("BEGIN")
            for table in TABLES:
                for op in ("update", "delete"):
                    conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
            conn.execute(sql, params)
            conn.execute("COMMIT")
        else:
            conn.execute("SET session_replication_role = replica")
            conn.execute(sql.replace("?", "%s").replace("rowid", "notification_id"), params)
            conn.commit()


def query(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        rows = conn.execute(sql.replace("?", db.param()) if not db.is_sqlite else sql, params).fetchall()
        conn.rollback()
        return rows


#: Login roles for tests, members of the roles the migrations create: what production's API and workers log in as.
LOGINS = {"service": ("govledger_test_service", "govledger_service"), "sealer": ("govledger_test_sealer", "govledger_sealer")}


def login_url(pg_url: str, who: str) -> str:
    """`pg_url` as the login role of `who` ("service": API processes; "sealer": workers), created if missing."""
    login, member_of = LOGINS[who]
    with Database.from_url(pg_url).connect() as conn:
        # Roles are cluster-wide and other test databases may race to create this one.
        conn.execute(f"DO $$ BEGIN CREATE ROLE {login} LOGIN IN ROLE {member_of};"
                     " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        conn.commit()
    user, rest = pg_url.split("://", 1)[1].split("@", 1)
    return f"postgresql://{login}@{rest}"
