"""The sealer worker: seal committed events every `interval` seconds until stopped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ledger.database import Database
from ledger.sealer import seal_once
from ledger.tree import sealed_size
from ledger_tools.checkpoint import Checkpoint
from ledger_tools.note import Signer

log = logging.getLogger("govledger.sealer")


def run_sealer(db: Database, signer: Signer, *, interval: float, batch: int, stop: threading.Event,
               on_seal: Callable[[Checkpoint], None] | None = None) -> None:
    """Seal until `stop` is set. A seal that fails leaves nothing behind and is retried next round."""
    with db.connect() as conn:
        size = sealed_size(conn)
        conn.rollback()
        while not stop.is_set():
            started = time.monotonic()
            checkpoint = seal_once(db, conn, signer, batch=batch)
            if checkpoint is not None:
                log.info("sealed tree size %d", checkpoint.size)
                if on_seal is not None:
                    on_seal(checkpoint)
                full, size = checkpoint.size - size >= batch, checkpoint.size
                if full:
                    continue  # a full batch: more is probably waiting
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
