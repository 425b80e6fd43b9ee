"""Compliance scores and breakdowns per model, as of any ledger position, computed by the domain's own formula.

The score needs the model and its latest version as they stood at each event. The projector keeps those
aggregates in memory, advancing them with each event; after a restart it reads an aggregate once from the
event store, at exactly the version it had reached at that position.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.compliance import score
from ledger.database import Database

from .registry import kind_of
from .rows import Rows, dumps

CACHE_LIMIT = 50_000


def score_view(model: Any, latest: Any | None) -> dict[str, Any]:
    """The score, its breakdown and the written sections, as JSON-ready values (also what a replay is compared with)."""
    result = score(model, latest)
    return {
        "model_id": str(model.id), "score": result.score, "risk_tier": result.risk_tier.value,
        "breakdown": [{"section": s.section, "status": s.status.value, "mandatory": s.mandatory, "weight": s.weight,
                       "points": s.points, "detail": s.detail} for s in result.sections],
        "sections": {name: {"content": w["content"], "edited_by": w["edited_by"], "edited_at": w["edited_at"].isoformat()}
                     for name, w in sorted(model.sections.items())},
    }


class Compliance:
    def __init__(self, rows: Rows, repository: Any, db: Database) -> None:
        self.rows = rows
        self.repository = repository
        self.db = db
        self.aggregates: dict[UUID, Any] = {}

    def _at(self, conn: Any, aggregate_id: UUID, nid: int) -> Any | None:
        """The aggregate as it stood just before notification `nid` (None if it did not exist yet)."""
        p, db = self.rows.p, self.db
        row = conn.execute(f"SELECT MAX(originator_version) FROM ledger_events WHERE originator_id = {p} AND {db.nid_column} < {p}",
                           (aggregate_id.hex if db.is_sqlite else aggregate_id, nid)).fetchone()  # SQLite stores the hex form
        version = row[0] if row else None
        if version is None:
            return None
        cached = self.aggregates.get(aggregate_id)
        if cached is not None and cached.version == version:
            return cached
        found = self.repository.get(aggregate_id, version=version)
        self._keep(found)
        return found

    def _keep(self, aggregate: Any) -> None:
        if len(self.aggregates) >= CACHE_LIMIT:
            self.aggregates.clear()
        self.aggregates[aggregate.id] = aggregate

    def _advance(self, conn: Any, nid: int, event: Any) -> Any:
        before = self.aggregates.get(event.originator_id)
        if before is None or before.version != event.originator_version - 1:
            before = self._at(conn, event.originator_id, nid) if event.originator_version > 1 else None
        after = event.mutate(before)
        self._keep(after)
        return after

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        owner, _ = kind_of(event)
        if owner not in ("Model", "ModelVersion"):
            return
        changed = self._advance(conn, nid, event)
        model = changed if owner == "Model" else self._at(conn, changed.model_id, nid + 1)
        if model is None:
            return
        latest = None
        for version_id in reversed(model.version_ids):  # a version added in this transaction may not be imported yet
            latest = self._at(conn, version_id, nid + 1)
            if latest is not None:
                break
        view = score_view(model, latest)
        values = {"score": view["score"], "risk_tier": view["risk_tier"], "breakdown": dumps(view["breakdown"]),
                  "sections": dumps(view["sections"])}
        ident = str(model.id)
        if self.rows.change(conn, "compliance_scores", "model_id", ident, nid, **values) is None:
            self.rows.open(conn, "compliance_scores", nid, {"model_id": ident, **values})
