"""One loop for every worker: transient database faults are retried with back-off, anything else stops it loudly.

A worker that cannot go on (an event the projector cannot apply, a chain the sealer will not sign, a bug)
records `failed` with the position and the reason, logs them, and raises: `govledger workers` then stops
every worker and exits non-zero. Nothing fails silently, and nothing permanent is retried forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ledger.database import Database
from ledger.errors import LedgerError, WorkerFailed
from ledger.health import TRANSIENT, Heartbeat, reason

log = logging.getLogger("govledger.workers")
MAX_BACKOFF_S = 30.0

#: One round of work: the position reached, and whether more is already waiting (then no pause).
Step = Callable[[], tuple[int | None, bool]]


def supervise(name: str, db: Database, step: Step, *, interval: float, stop: threading.Event,
              on_transient: Callable[[], None] | None = None) -> None:
    """Run `step` until `stop` is set; `on_transient` drops whatever connection the fault left broken."""
    health = Heartbeat(db, name)
    delay, position = interval, None
    try:
        while not stop.is_set():
            try:
                position, more = step()
            except TRANSIENT as e:
                log.warning("%s: %s; retrying in %.1f s", name, reason(e), delay)
                if on_transient is not None:
                    on_transient()
                health.beat("retrying", position, reason(e))
                stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            except Exception as e:
                position = getattr(e, "position", position)
                where = f" at position {position}" if position is not None else ""
                health.beat("failed", position, reason(e))
                log.error("%s stopped%s: %s", name, where, reason(e))
                if isinstance(e, LedgerError):
                    raise
                log.debug("%s: the traceback", name, exc_info=True)  # for a bug, at debug level: users see one line
                raise WorkerFailed(f"the {name} stopped{where}: {reason(e)}") from e
            delay = interval
            health.beat("running", position)
            if not more:
                stop.wait(interval)
        health.beat("stopped", position)
    finally:
        health.close()
