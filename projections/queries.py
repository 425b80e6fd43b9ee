"""Queries on the read models as of a notification id, filtered and paged by keyset (never OFFSET over a big table)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, datetime
from typing import Any

JSON_COLUMNS = frozenset({"dataset_ids", "metrics", "sections", "result", "applicable", "mandatory", "last_run", "decision",
                          "request", "error", "schema", "profile", "resources", "routed_by", "rule_set"})
BOOL_COLUMNS = frozenset({"monitored", "active", "snapshot"})


@dataclass
class Query:
    """WHERE clauses and their arguments for one read-model query."""

    p: str
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, clause: str, *args: Any) -> Query:
        self.where.append(clause)
        self.args.extend(args)
        return self

    def equal(self, column: str, value: Any) -> Query:
        return self if value is None else self.add(f"{column} = {self.p}", value)

    def among(self, column: str, values: list[Any]) -> Query:
        """column IN values: one array parameter on PostgreSQL (a long IN list there gets a poor plan)."""
        if self.p == "%s":
            return self.add(f"{column} = ANY({self.p})", list(values))
        return self.add(f"{column} IN ({', '.join([self.p] * len(values))})", *values)

    def valid_at(self, nid: int) -> Query:
        """Versioned rows as they stood once notification `nid` was recorded."""
        return self.add(f"valid_from <= {self.p} AND (valid_to IS NULL OR valid_to > {self.p})", nid, nid)

    def owned_by(self, owner: str | None) -> Query:
        """Only models of this owner (a model's owner never changes, so no as-of is needed here)."""
        if owner is None:
            return self
        return self.add(f"model_id IN (SELECT model_id FROM registry_models WHERE owner = {self.p})", owner)

    def fetch(self, conn: Any, table: str, columns: str, keys: tuple[str, ...], after: list[Any] | None, limit: int,
              *, descending: bool = False) -> tuple[list[dict[str, Any]], list[Any] | None]:
        """One page in key order, and the key to continue after (None on the last page)."""
        where, args = list(self.where), list(self.args)
        if after is not None:
            if len(after) != len(keys):
                raise ValueError("cursor does not fit this list")
            where.append(f"({', '.join(keys)}) {'<' if descending else '>'} ({', '.join([self.p] * len(keys))})")
            args.extend(after)
        direction = " DESC" if descending else ""
        sql = (f"SELECT {columns} FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY {', '.join(k + direction for k in keys)} LIMIT {int(limit) + 1}")
        cur = conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        rows = [_decode(dict(zip(names, row))) for row in cur.fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, ([rows[-1][k] for k in keys] if more else None)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for name in row.keys() & JSON_COLUMNS:
        if row[name] is not None:
            row[name] = json.loads(row[name])
    for name in row.keys() & BOOL_COLUMNS:
        row[name] = bool(row[name])
    return row


MODEL_COLUMNS = "model_id, name, description, owner, registered_by, versions, monitored, risk_tier, valid_from"
VERSION_COLUMNS = ("version_id, model_id, number, status, estimator, target, trained_by, artifact_hash, dataset_ids, metrics,"
                   " deployment_target, job_id, task, valid_from")
DATASET_COLUMNS = ("dataset_id, name, source, row_count, content_hash, registered_by, source_kind, snapshot, schema, profile,"
                   " valid_from")
USER_COLUMNS = "user_id, username, role, active, valid_from"
AUDIT_COLUMNS = "notification_id, recorded_at, aggregate_id, event_type, action, outcome, actor, model_id, data_subject, summary"
DEPLOYMENT_COLUMNS = ("deployment_id, version_id, model_id, target, size, status, artifact_hash, requested_by, requested_at,"
                      " provisioned_at, terminated_at, resources, endpoint, routed_by, error, termination_id, created")
ROUTING_COLUMNS = ("routing_config_id, name, revision, rule_set, key_id, created_by, created_at, configured_by,"
                   " configured_at, created")
JOB_COLUMNS = ("job_id, kind, state, model_id, version_id, dataset_id, requested_by, requested_at, started_at, finished_at,"
               " worker, attempt, request, result, error, created")


def utc_text(moment: datetime) -> str:
    """`moment` (UTC if it names no zone) as the UTC text recorded_at is compared with. A moment whose UTC reading
    falls outside years 1 to 9999 (9999-12-31T23:59-14:00, 0001-01-01T00:00+14:00) is the last or first moment
    there is: after, or before, every event, rather than an OverflowError."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        at = aware.astimezone(UTC)
    except OverflowError:
        at = (datetime.max if aware.year == MAXYEAR else datetime.min).replace(tzinfo=UTC)
    return at.isoformat(timespec="microseconds")


def position_at(conn: Any, param: str, moment: datetime) -> int:
    """The last notification id n such that every event up to n was recorded at or before `moment` (0 if none)."""
    at = utc_text(moment)
    row = conn.execute(f"SELECT notification_id FROM audit_trail WHERE recorded_by <= {param}"
                       " ORDER BY recorded_by DESC, notification_id DESC LIMIT 1", (at,)).fetchone()
    return int(row[0]) if row else 0


def one(conn: Any, query: Query, table: str, columns: str, key: tuple[str, ...]) -> dict[str, Any] | None:
    rows, _ = query.fetch(conn, table, columns, key, None, 1)
    return rows[0] if rows else None
