"""The sealer worker: seal committed events every `interval` seconds until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ledger.database import Database
from ledger.sealer import seal_once
from ledger.tree import sealed_size
from ledger_tools.checkpoint import Checkpoint
from ledger_tools.note import Signer

from .loop import supervise

log = logging.getLogger("govledger.sealer")


def run_sealer(db: Database, signer: Signer, *, interval: float, batch: int, stop: threading.Event,
               on_seal: Callable[[Checkpoint], None] | None = None) -> None:
    """Seal until `stop` is set. A seal that fails leaves nothing behind; a transient fault is retried, a broken chain stops it."""
    held: dict[str, Any] = {}

    def connection() -> Any:
        if "conn" not in held:
            held["conn"] = db.open()
        return held["conn"]

    def drop() -> None:
        conn = held.pop("conn", None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped either way
                pass

    def step() -> tuple[int | None, bool]:
        conn = connection()
        checkpoint = seal_once(db, conn, signer, batch=batch)
        if checkpoint is None:
            size = sealed_size(conn)
            conn.rollback()
            return size, False
        log.info("sealed tree size %d", checkpoint.size)
        if on_seal is not None:
            on_seal(checkpoint)
        return checkpoint.size, True  # it sealed something: more may be waiting

    try:
        supervise("sealer", db, step, interval=interval, stop=stop, on_transient=drop)
    finally:
        drop()
