"""Versioned rows: each change closes the current row (valid_to = the event's notification id) and opens the next.

So a table as of notification id n is the rows with valid_from ≤ n < valid_to (valid_to NULL while current).
"""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    """JSON for a text column: sorted keys, so a rebuild writes byte-identical rows."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Rows:
    """Writes versioned rows through a DB-API connection with the given parameter marker."""

    def __init__(self, param: str) -> None:
        self.p = param

    def insert(self, conn: Any, table: str, values: dict[str, Any]) -> None:
        columns = list(values)
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self.p] * len(columns))})",
                     list(values.values()))

    def open(self, conn: Any, table: str, nid: int, values: dict[str, Any]) -> None:
        self.insert(conn, table, {**values, "valid_from": nid})

    def current(self, conn: Any, table: str, key: str, ident: str) -> dict[str, Any] | None:
        cur = conn.execute(f"SELECT * FROM {table} WHERE {key} = {self.p} AND valid_to IS NULL", (ident,))
        row = cur.fetchone()
        if row is None:
            return None
        values = dict(zip((d[0] for d in cur.description), row))
        values.pop("valid_from")
        values.pop("valid_to")
        return values

    def change(self, conn: Any, table: str, key: str, ident: str, nid: int, **changes: Any) -> dict[str, Any] | None:
        """Apply `changes` to the current row of `ident` as of `nid`; no new row when nothing changes."""
        current = self.current(conn, table, key, ident)
        if current is None:
            return None  # something this read model does not track
        if all(current.get(k) == v for k, v in changes.items()):
            return current
        conn.execute(f"UPDATE {table} SET valid_to = {self.p} WHERE {key} = {self.p} AND valid_to IS NULL", (nid, ident))
        current.update(changes)
        self.open(conn, table, nid, current)
        return current
