"""eventsourcing recorders that chain every event in the transaction that stores it.

Inside the insert transaction, with writers serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL:
the library's `LOCK TABLE … IN EXCLUSIVE MODE`, taken by the `govledger_append` function), the
tip of the ledger is read, each new event gets the next notification id — dense, so ledger
position = notification id − 1 — and is stored with its RFC 9162 leaf hash and its chain hash.
No committed event is ever unchained, and positions follow commit order. The chain lives in the
event's own row: no second table, no second index, nothing extra to write at commit.
The schema is owned by migrations/, never created here.

Events are small facts: each one's stored form (topic and state) is bounded by GOVLEDGER_MAX_EVENT_BYTES,
checked before anything is sent, so no writer holds the insert lock while a large payload crosses the
network; large content belongs in the artifact store, with its hash in the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory, SQLiteTransaction
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from ledger_tools.chain import GENESIS, chain_events, event_leaf_hash

from .database import EVENTS_TABLE, Database
from .errors import ConfigError, EventTooLarge

MAX_EVENT_BYTES = 256 * 1024  # the default bound of one event's topic and state


def max_event_bytes(env: Any) -> int:
    """The bound from the factory's environment (which includes the process's), or the default."""
    text = env.get("GOVLEDGER_MAX_EVENT_BYTES") or str(MAX_EVENT_BYTES)
    if not text.isdigit() or int(text) < 1024:
        raise ConfigError("GOVLEDGER_MAX_EVENT_BYTES must be a whole number of bytes, at least 1024")
    return int(text)


def check_sizes(stored_events: Sequence[StoredEvent], limit: int) -> None:
    for s in stored_events:
        size = len(s.state) + len(s.topic.encode())
        if size > limit:
            raise EventTooLarge(
                f"a {s.topic.rsplit(':', 1)[-1]} event of {size} bytes exceeds the bound of {limit} bytes per event:"
                " keep large content (wide schemas, reports) in the artifact store and record its hash")


def _leaf_input(s: StoredEvent) -> tuple[str, int, str, bytes]:
    """What a leaf covers; the originator id as canonical UUID text, or the text id as stored."""
    return str(s.originator_id), s.originator_version, s.topic, s.state


def _leaf_inputs(events: Sequence[StoredEvent]) -> list[tuple[str, int, str, bytes]]:
    return [_leaf_input(s) for s in events]


def leaf_hash(stored_event: StoredEvent) -> bytes:
    """The leaf hash the chained recorders store in `leaf_hash` for this event (the same bytes as chain_events')."""
    return event_leaf_hash(*_leaf_input(stored_event))


def chain_rows(tip: tuple[int, bytes] | None, events: Sequence[StoredEvent]) -> tuple[list[int], list[tuple[bytes, bytes]]]:
    """Notification ids and (leaf hash, chain hash) for `events` appended after the tip (id, chain hash)."""
    last_id, previous = (tip[0], bytes(tip[1])) if tip else (0, GENESIS)
    return list(range(last_id + 1, last_id + 1 + len(events))), chain_events(previous, _leaf_inputs(events))


class _ImmediateTransaction(SQLiteTransaction):
    """BEGIN IMMEDIATE: take SQLite's write lock before reading the tip, so it cannot move under us."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: Any, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name)
        self.insert_events_statement = (
            f"INSERT INTO {events_table_name} (rowid, originator_id, originator_version, topic, state, leaf_hash, chain_hash)"
            " VALUES (?,?,?,?,?,?,?)"
        )
        self.select_tip_statement = f"SELECT rowid, chain_hash FROM {events_table_name} ORDER BY rowid DESC LIMIT 1"
        self.select_key_statement = f"SELECT 1 FROM {events_table_name} WHERE originator_id = ? AND originator_version = ?"

    max_event_bytes = MAX_EVENT_BYTES

    def construct_create_table_statements(self) -> list[str]:
        return []  # migrations/ own the schema

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        check_sizes(stored_events, self.max_event_bytes)
        with self.datastore.get_connection(commit=True) as connection, _ImmediateTransaction(connection, commit=True) as c:
            return self._insert_events(c, stored_events, **kwargs)

    def recorded(self, keys: Sequence[tuple[Any, int]]) -> set[tuple[Any, int]]:
        """Those of the (originator id, version) pairs the store already holds: what made an insert a duplicate."""
        found = set()
        with self.datastore.transaction(commit=False) as c:
            for oid, version in keys:  # in-process point lookups on the primary key: microseconds each
                c.execute(self.select_key_statement, (oid.hex if isinstance(oid, UUID) else oid, version))
                if c.fetchone() is not None:
                    found.add((oid, version))
        return found

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        c.execute(self.select_tip_statement)
        tip = c.fetchone()
        ids, hashes = chain_rows(tuple(tip) if tip else None, stored_events)
        rows = [
            (nid, s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state, leaf, chained)
            for nid, s, (leaf, chained) in zip(ids, stored_events, hashes)
        ]
        if len(rows) == 1:  # executemany costs twice as much for a single row
            c.execute(self.insert_events_statement, rows[0])
        else:
            c.executemany(self.insert_events_statement, rows)
        return ids


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """Leaf hashes are computed here; `govledger_append` (migrations/) links them to the chain under the lock."""

    max_event_bytes = MAX_EVENT_BYTES

    def __init__(self, datastore: Any, *, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements = []  # migrations/ own the schema
        schema = Identifier(self.datastore.schema)
        self.lock_table_statements = []  # the session's lock_timeout bounds the wait (Database.SESSION_TIMEOUTS)
        # Binary parameters (%b): a text array escapes every bytea element with a regular expression, a third of the
        # insert's CPU time; the casts name the function's own types whatever element type psycopg picks.
        self.append_statement = SQL(
            "SELECT {0}.govledger_append(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bytea[])").format(schema)
        self.select_keys_statement = SQL(
            "SELECT e.originator_id, e.originator_version FROM {0}.{1} e"
            " JOIN unnest(%s::uuid[], %s::bigint[]) AS k(o, v) ON e.originator_id = k.o AND e.originator_version = k.v"
        ).format(schema, Identifier(events_table_name))

    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        check_sizes(stored_events, self.max_event_bytes)
        # Not in psycopg's pipeline mode, as the library does: its pipeline stops flushing once its queue of
        # commands is empty, so the tail of a multi-MB parameter stays in the client's buffer while the client
        # waits for a result, and the server waits for the rest of the message (ClientRead) inside the
        # transaction, forever. A plain transaction sends every byte before it waits.
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def recorded(self, keys: Sequence[tuple[Any, int]]) -> set[tuple[Any, int]]:
        """Those of the (originator id, version) pairs the store already holds, in one query."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_keys_statement, ([k[0] for k in keys], [k[1] for k in keys]))
            present = {(str(row["originator_id"]), row["originator_version"]) for row in curs.fetchall()}
        return {k for k in keys if (str(k[0]), k[1]) in present}

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._notify_channel(curs)
        hashes = chain_events(GENESIS, _leaf_inputs(stored_events))
        curs.execute(self.append_statement, (
            [s.originator_id for s in stored_events], [s.originator_version for s in stored_events],
            [s.topic for s in stored_events], [s.state for s in stored_events], [leaf for leaf, _ in hashes],
        ), prepare=True)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        row = curs.fetchone()
        first = row["govledger_append"]
        return list(range(first, first + len(stored_events)))


class ChainedSQLiteFactory(SQLiteFactory):
    application_recorder_class = ChainedSQLiteApplicationRecorder

    def application_recorder(self) -> Any:
        recorder = super().application_recorder()
        recorder.max_event_bytes = max_event_bytes(self.env)
        return recorder


class ChainedPostgresFactory(PostgresFactory):
    application_recorder_class = ChainedPostgresApplicationRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # Set when each session starts, so every pooled connection carries them at no cost per statement.
        self.datastore.pool.kwargs["options"] = Database.session_options()

    def application_recorder(self) -> ChainedPostgresApplicationRecorder:
        # One ledger table whatever the application's name: the chain spans every event.
        recorder = ChainedPostgresApplicationRecorder(self.datastore, events_table_name=EVENTS_TABLE)
        recorder.max_event_bytes = max_event_bytes(self.env)
        return recorder
