"""eventsourcing recorders that chain every event in the transaction that stores it.

Both recorders extend the library's application recorders at the hooks that run inside the
insert transaction, after the events are written and while writers are serialised (SQLite's
write lock; PostgreSQL's `LOCK TABLE … IN EXCLUSIVE MODE`). They read the chain tip, and
insert one `ledger_chain` row per event: its dense ledger position, its notification id, its
RFC 9162 leaf hash and its chain hash. So no committed event is ever unchained, and positions
follow commit order. The schema is owned by migrations/, never created here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory
from psycopg.sql import SQL

from ledger_tools.chain import GENESIS, chain_hash, event_leaf_hash

from .database import EVENTS_TABLE

SELECT_TIP = "SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1"


def originator_text(originator_id: UUID | str) -> str:
    """The originator id as the leaf encodes it: canonical UUID text, or the text id as stored."""
    return str(originator_id)


def chain_rows(
    tip: tuple[int, bytes] | None, events: Sequence[tuple[int, StoredEvent]]
) -> list[tuple[int, int, bytes, bytes]]:
    """(position, notification id, leaf hash, chain hash) for events in notification order, after `tip`."""
    position, previous = (tip[0] + 1, bytes(tip[1])) if tip else (0, GENESIS)
    rows = []
    for notification_id, s in events:
        leaf = event_leaf_hash(originator_text(s.originator_id), s.originator_version, s.topic, s.state)
        previous = chain_hash(previous, leaf)
        rows.append((position, notification_id, leaf, previous))
        position += 1
    return rows


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: Any, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return []  # migrations/ own the schema

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # The inserts above took SQLite's write lock, so the tip read here cannot move under us.
        ids = super()._insert_events(c, stored_events, **kwargs)
        assert ids is not None and len(ids) == len(stored_events)
        c.execute(SELECT_TIP)
        tip = c.fetchone()
        rows = chain_rows(tuple(tip) if tip else None, list(zip(ids, stored_events)))
        c.executemany("INSERT INTO ledger_chain VALUES (?,?,?,?)", rows)
        return ids


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements = []  # migrations/ own the schema
        # Return the key with each id, so ids pair with events whatever order RETURNING uses.
        self.insert_events_statement += SQL(", originator_id, originator_version")
        self.insert_chain_statement = SQL(
            "INSERT INTO {schema}.ledger_chain (position, notification_id, leaf_hash, chain_hash)"
            " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[], %s::bytea[])"
        ).format(schema=self._schema_identifier())
        # Same EXCLUSIVE lock as the library takes, through a function the service role may call.
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT {schema}.govledger_lock_events()").format(schema=self._schema_identifier()),
        ]
        self.select_tip_statement = SQL(
            "SELECT position, chain_hash FROM {schema}.ledger_chain ORDER BY position DESC LIMIT 1"
        ).format(schema=self._schema_identifier())

    def _schema_identifier(self) -> Any:
        from psycopg.sql import Identifier

        return Identifier(self.datastore.schema)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # Runs inside the insert transaction, under the EXCLUSIVE table lock taken before the insert.
        returned = curs.fetchall()
        if len(returned) != len(stored_events):
            from eventsourcing.persistence import ProgrammingError

            raise ProgrammingError(f"got {len(returned)} notification ids for {len(stored_events)} events")
        by_key = {(r["originator_id"], r["originator_version"]): r["notification_id"] for r in returned}
        paired = sorted(
            ((by_key[(s.originator_id, s.originator_version)], s) for s in stored_events), key=lambda p: p[0]
        )
        curs.execute(self.select_tip_statement, prepare=True)
        tip = curs.fetchone()
        rows = chain_rows((tip["position"], tip["chain_hash"]) if tip else None, paired)
        curs.execute(self.insert_chain_statement, [list(col) for col in zip(*rows)], prepare=True)
        # The library hands ids back in the order the events were given.
        return [by_key[(s.originator_id, s.originator_version)] for s in stored_events]


class ChainedSQLiteFactory(SQLiteFactory):
    application_recorder_class = ChainedSQLiteApplicationRecorder


class ChainedPostgresFactory(PostgresFactory):
    application_recorder_class = ChainedPostgresApplicationRecorder

    def application_recorder(self) -> ChainedPostgresApplicationRecorder:
        # One ledger table whatever the application's name: the chain spans every event.
        return ChainedPostgresApplicationRecorder(self.datastore, events_table_name=EVENTS_TABLE)
