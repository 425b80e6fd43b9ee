"""`govledger demo`: a bureau feed of credit applications registered as datasets, sealed, verified and replayed."""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.application import Governance
from ledger.sealer import seal_pending
from ledger.tree import stored_inclusion_proof
from ledger.verify import verify_store
from ledger_tools import open_checkpoint, verify_inclusion

REGIONS = ["north", "south", "east", "west", "central", "coastal", "highlands", "metro"]
SCHEMA = {
    "applicant_id": "integer", "age": "integer", "income": "float", "debt_ratio": "float",
    "credit_history_months": "integer", "open_accounts": "integer", "gender": "category",
    "region": "category", "defaulted": "boolean",
}


def credit_applications(rng: random.Random, day: int, region: str, rows: int) -> bytes:
    """A CSV partition of synthetic credit applications; default risk rises with debt and falls with history."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(SCHEMA)
    for i in range(rows):
        age = rng.randint(19, 80)
        income = round(rng.lognormvariate(10.6, 0.45), 2)
        debt = round(min(rng.betavariate(2, 5) * 1.4, 1.0), 3)
        history = max(0, min((age - 18) * 12, int(rng.gauss(90, 50))))
        risk = 0.04 + 0.5 * debt - 0.0008 * history + (0.05 if income < 25_000 else 0)
        w.writerow([day * 100_000 + i, age, income, debt, history, rng.randint(0, 12), rng.choice("FM"), region,
                    rng.random() < max(0.01, risk)])
    return out.getvalue().encode()


@dataclass(frozen=True)
class FeedResult:
    dataset_ids: list[UUID]
    first: UUID


def register_feed(app: Governance, data_dir: Path, *, days: int, rows: int, actor: str, seed: int = 2026,
                  progress: Callable[[int], None] | None = None) -> FeedResult:
    """Write `days` × regions partitions under data_dir/datasets and register each one in the ledger."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    ids = []
    for d in range(days):
        day = start + timedelta(days=d)
        folder = data_dir / "datasets" / f"bureau-feed/{day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for region in REGIONS:
            content = credit_applications(rng, d, region, rows)
            path = folder / f"region={region}.csv"
            path.write_bytes(content)
            ids.append(app.register_dataset(
                name=f"bureau-feed {day.isoformat()} {region}", source=str(path), schema=SCHEMA, row_count=rows,
                content_hash=hashlib.sha256(content).hexdigest(), registered_by=actor,
            ))
            if progress is not None:
                progress(1)
    return FeedResult(ids, ids[0])


def tell_story(ledger: Any, gov: Governance, feed: FeedResult, out: Any) -> None:
    """Seal what was registered, verify the store, prove one event offline and replay it."""
    db = ledger.db
    signer = ledger.signer()
    with db.connect() as conn:
        sealed = seal_pending(db, conn, signer, batch=ledger.settings.seal_batch)
        if sealed is not None:
            out.print(f"sealer: signed checkpoint of tree size {sealed.size}")
        note = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()[0]
        out.print("latest checkpoint (C2SP signed note):")
        out.print(note, highlight=False, markup=False, soft_wrap=True, end="")
        report = verify_store(db, conn, ledger.verifier())
        out.print(f"verify: {report.events} events, chain intact, {report.checkpoints} checkpoints consistent")
        checkpoint = open_checkpoint(note, ledger.verifier())
        p = db.param()
        position, leaf = conn.execute(
            f"SELECT {db.nid_column} - 1, leaf_hash FROM ledger_events WHERE originator_id = {p} AND originator_version = 1",
            (feed.first.hex if db.is_sqlite else feed.first,),
        ).fetchone()
        proof = stored_inclusion_proof(db, conn, position, checkpoint.size)
        verify_inclusion(position, checkpoint.size, bytes(leaf), proof, checkpoint.root)
        out.print(f"inclusion: dataset {feed.first} is leaf {position} of the signed tree "
                  f"({len(proof)}-hash proof verified with ledger_tools)")
    first = gov.get_dataset(feed.first)
    out.print(f"replay: {first.name} — {first.row_count} rows, sha256 {first.content_hash[:16]}…, "
              f"registered by {first.registered_by} at {first.created_on.isoformat()}")
    out.print(f"try: govledger replay {feed.first}   ·   govledger verify   ·   govledger checkpoint")
