"""The projector worker: keep the read models caught up with the ledger until stopped."""

from __future__ import annotations

import threading
from typing import Any

from ledger.database import Database
from projections.runner import catch_up


def run_projector(db: Database, mapper: Any, *, interval: float, stop: threading.Event) -> None:
    """Poll for new events (SQLite has no notifications to listen to); a crash resumes from the tracked position."""
    while not stop.is_set():
        catch_up(db, mapper)
        stop.wait(interval)
