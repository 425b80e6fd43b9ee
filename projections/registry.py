"""The model registry as of any ledger position: models and versions with their status and lineage.

Every change closes the current row (valid_to = the event's notification id) and opens a new one, so
the registry as of position p is the rows with valid_from ≤ p + 1 < valid_to (notification ids).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NAME = "registry"
TABLES = ("registry_models", "registry_versions", "projection_event_times")

#: event class name on ModelVersion → the status it leads to
VERSION_STATUS = {"Exported": "staged", "BatchRunCompleted": "validated", "Approved": "approved", "Rejected": "rejected",
                  "Deployed": "deployed", "Terminated": "terminated", "Retired": "retired"}


class Registry:
    """Applies events to the registry tables through a DB-API connection (one transaction per batch)."""

    def __init__(self, param: str) -> None:
        self.p = param

    def apply(self, conn: Any, nid: int, event: Any) -> None:
        # ISO 8601 in UTC with microseconds sorts as text, on SQLite and PostgreSQL alike.
        conn.execute(f"INSERT INTO projection_event_times (notification_id, recorded_at) VALUES ({self.p}, {self.p})",
                     (nid, event.timestamp.astimezone(UTC).isoformat(timespec="microseconds")))
        kind = type(event).__qualname__
        owner = kind.split(".")[0]
        if kind == "Model.Registered":
            self._open(conn, "registry_models", nid, {
                "model_id": str(event.originator_id), "name": event.name, "owner": str(event.owner), "versions": 0})
        elif kind == "Model.VersionAdded":
            self._change(conn, "registry_models", "model_id", str(event.originator_id), nid, versions=event.number)
        elif kind == "ModelVersion.Imported":
            self._open(conn, "registry_versions", nid, {
                "version_id": str(event.originator_id), "model_id": str(event.model_id), "number": event.number,
                "status": "trained", "trained_by": event.trained_by_name, "artifact_hash": event.artifact_hash})
        elif owner == "ModelVersion" and kind.split(".")[-1].lstrip("_") in VERSION_STATUS:
            status = VERSION_STATUS[kind.split(".")[-1].lstrip("_")]
            self._change(conn, "registry_versions", "version_id", str(event.originator_id), nid, status=status)

    def _open(self, conn: Any, table: str, nid: int, values: dict[str, Any]) -> None:
        columns = [*values, "valid_from"]
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self.p] * len(columns))})",
                     [*values.values(), nid])

    def _change(self, conn: Any, table: str, key: str, ident: str, nid: int, **changes: Any) -> None:
        p = self.p
        cur = conn.execute(f"SELECT * FROM {table} WHERE {key} = {p} AND valid_to IS NULL", (ident,))
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            return  # an aggregate the registry does not track
        current = dict(zip(names, row))
        if all(current.get(k) == v for k, v in changes.items()):
            return
        conn.execute(f"UPDATE {table} SET valid_to = {p} WHERE {key} = {p} AND valid_to IS NULL", (nid, ident))
        current.update(changes)
        current.pop("valid_to")
        current.pop("valid_from")
        self._open(conn, table, nid, current)


def versions_as_of(conn: Any, param: str, nid: int, model_id: str | None = None) -> list[dict[str, Any]]:
    """Versions as they stood once notification `nid` had been recorded (position nid − 1)."""
    sql = (f"SELECT version_id, model_id, number, status, trained_by, artifact_hash FROM registry_versions"
           f" WHERE valid_from <= {param} AND (valid_to IS NULL OR valid_to > {param})")
    args: list[Any] = [nid, nid]
    if model_id is not None:
        sql += f" AND model_id = {param}"
        args.append(model_id)
    cur = conn.execute(sql + " ORDER BY model_id, number", args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def position_at(conn: Any, param: str, moment: datetime) -> int:
    """The last notification id recorded at or before `moment` (0 if none), as far as the projection has seen."""
    at = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    row = conn.execute(f"SELECT MAX(notification_id) FROM projection_event_times WHERE recorded_at <= {param}", (at,)).fetchone()
    return int(row[0] or 0)
