"""Versioned rows, written in batches: each change closes the current row (valid_to = the event's notification id)
and opens the next, so a table as of notification id n is the rows with valid_from ≤ n < valid_to (NULL while current).

The current row of everything is kept in memory, and a batch's writes go to the database together when the batch
commits (one COPY or executemany per table), so applying an event costs no round trip. After a restart the memory is empty
and current rows are read back once, on first use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

MEMORY_LIMIT = 500_000  # current rows kept in memory; beyond it the memory is dropped after a flush


def dumps(value: Any) -> str:
    """JSON for a text column: sorted keys, so a rebuild writes byte-identical rows."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Rows:
    """Writes through a DB-API connection with the given parameter marker; `flush` writes the batch."""

    def __init__(self, param: str, *, copy: bool = False) -> None:
        self.p = param
        self.copy = copy  # PostgreSQL: COPY the inserts, several times faster than INSERTs
        self.current_rows: dict[tuple[str, str], dict[str, Any]] = {}  # (table, key value) → current row, valid_from included
        self.inserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closes: dict[str, list[tuple[int, str]]] = defaultdict(list)  # table → (valid_to, key value) of stored rows
        self.keys: dict[str, str] = {}

    def insert(self, table: str, values: dict[str, Any]) -> None:
        """A row of an insert-only table (datasets, jobs, audit trail)."""
        self.inserts[table].append(values)

    def open(self, table: str, key: str, nid: int, values: dict[str, Any]) -> None:
        row = {**values, "valid_from": nid, "valid_to": None}
        self.inserts[table].append(row)
        self.current_rows[(table, values[key])] = row
        self.keys[table] = key

    def current(self, conn: Any, table: str, key: str, ident: str) -> dict[str, Any] | None:
        row = self.current_rows.get((table, ident))
        if row is None:
            cur = conn.execute(f"SELECT * FROM {table} WHERE {key} = {self.p} AND valid_to IS NULL", (ident,))
            found = cur.fetchone()
            if found is None:
                return None
            row = dict(zip((d[0] for d in cur.description), found))
            row["stored"] = True
            self.current_rows[(table, ident)] = row
        return row

    def change(self, conn: Any, table: str, key: str, ident: str, nid: int, **changes: Any) -> dict[str, Any] | None:
        """Apply `changes` to the current row of `ident` as of `nid`; no new row when nothing changes."""
        row = self.current(conn, table, key, ident)
        if row is None:
            return None  # something this read model does not track
        if all(row.get(k) == v for k, v in changes.items()):
            return row
        if row.pop("stored", False):
            self.closes[table].append((nid, ident))
        else:
            row["valid_to"] = nid  # opened in this batch: closed before it is written
        values = {k: v for k, v in row.items() if k not in ("valid_from", "valid_to")}
        self.open(table, key, nid, {**values, **changes})
        return row

    def flush(self, conn: Any) -> None:
        p = self.p
        cursor = conn.cursor()  # one: each new psycopg cursor copies the connection's adapters
        for table, closes in self.closes.items():
            cursor.executemany(f"UPDATE {table} SET valid_to = {p} WHERE {self.keys[table]} = {p} AND valid_to IS NULL", closes)
        for table, rows in self.inserts.items():
            columns = list(rows[0])
            if self.copy:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
                continue
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})",
                               [[row[c] for c in columns] for row in rows])
        for row in self.current_rows.values():
            row["stored"] = True
        self.inserts.clear()
        self.closes.clear()
        if len(self.current_rows) > MEMORY_LIMIT:
            self.current_rows.clear()

    def forget(self) -> None:
        """After a failed batch: the memory may be ahead of the database."""
        self.current_rows.clear()
        self.inserts.clear()
        self.closes.clear()
