"""Small reads of the events table by position or by aggregate, for answers that name where an event is."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import NotFound

from .database import Database


def first_position(db: Database, conn: Any, aggregate_id: UUID) -> int:
    """The ledger position of an aggregate's first event."""
    oid = aggregate_id.hex if db.is_sqlite else aggregate_id  # as the recorders store it
    row = conn.execute(f"SELECT {db.nid_column} FROM ledger_events WHERE originator_id = {db.param()}"
                       f" AND originator_version = 1", (oid,)).fetchone()
    conn.rollback()
    if row is None:
        raise NotFound(f"no event of {aggregate_id} in the ledger")
    return int(row[0]) - 1


def stored_leaf(db: Database, conn: Any, position: int) -> bytes:
    """The leaf hash stored with the event at `position`."""
    row = conn.execute(f"SELECT leaf_hash FROM ledger_events WHERE {db.nid_column} = {db.param()}",
                       (position + 1,)).fetchone()
    conn.rollback()
    if row is None:
        raise NotFound(f"the ledger holds no event at position {position}")
    return bytes(row[0])
