"""The projector worker: keep the read models caught up with the ledger until stopped."""

from __future__ import annotations

import threading
from typing import Any

from ledger.database import Database
from projections.runner import Projector

from .loop import supervise


def run_projector(db: Database, app: Any, *, interval: float, stop: threading.Event, batch: int = 1_000) -> None:
    """Poll for new events (SQLite has no notifications to listen to); a crash resumes from the tracked position.

    Several projectors may run against one PostgreSQL: an advisory lock lets one apply a batch at a time.
    An event that cannot be applied stops it (ProjectionFailed names the position); a database fault is retried.
    """
    projector = Projector(db, app, batch=batch)

    def step() -> tuple[int | None, bool]:
        return projector.catch_up(), False  # events applied so far

    supervise("projector", db, step, interval=interval, stop=stop)
