"""Ledger append throughput with and without hash chaining, side by side in one run (target: chaining costs at most 10% of throughput).

The workload is eventsourcing's own: `insert_events` on an application recorder, one event per
transaction and 100 events per transaction. "plain" is the library's recorder on its own table;
"chained" is ours on the migrated schema. The two alternate every few transactions, so the drift
of a shared machine (and of its disk's commit latency) hits both alike.

    python bench/append.py [--rounds 5] [--single 1000] [--batches 100] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from common import drop_pg, fresh_pg, fresh_sqlite, median, stored_events
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory

from ledger.recorders import ChainedPostgresFactory, ChainedSQLiteFactory

BATCH = 100


def recorders(backend: str, tmp: Path):
    if backend == "sqlite":
        plain_db, chained_db = fresh_sqlite(tmp, "plain", migrated=False), fresh_sqlite(tmp, "chained")
        plain_env = {"SQLITE_DBNAME": str(plain_db.path), "SQLITE_LOCK_TIMEOUT": "30", "CREATE_TABLE": "true"}
        plain = SQLiteFactory(plain_env).application_recorder()
        chained = ChainedSQLiteFactory(chained_db.eventsourcing_env()).application_recorder()
    else:
        plain_db, chained_db = fresh_pg("gl_bench_plain", migrated=False), fresh_pg("gl_bench_chained")
        plain_env = {k: v for k, v in plain_db.eventsourcing_env().items() if k != "PERSISTENCE_MODULE"}
        plain = PostgresFactory({**plain_env, "CREATE_TABLE": "true"}).application_recorder()
        chained = ChainedPostgresFactory(chained_db.eventsourcing_env()).application_recorder()
    return plain, chained


def elapsed(recorder, events, per_txn: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(events), per_txn):
        recorder.insert_events(events[i : i + per_txn])
    return time.perf_counter() - started


def interleaved(plain, chained, rng, events: int, per_txn: int, chunk: int) -> tuple[float, float]:
    """Events per second of each recorder, alternating every `chunk` transactions."""
    spent = {"plain": 0.0, "chained": 0.0}
    for _ in range(0, events, chunk * per_txn):
        for name, recorder in (("plain", plain), ("chained", chained)):
            spent[name] += elapsed(recorder, stored_events(chunk * per_txn, rng), per_txn)
    return events / spent["plain"], events / spent["chained"]


def run(backend: str, rounds: int, single: int, batches: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        plain, chained = recorders(backend, Path(tmp))
        results: dict[str, list[tuple[float, float]]] = {}
        for _ in range(rounds):
            results.setdefault("single", []).append(interleaved(plain, chained, rng, single, 1, 25))
            results.setdefault("batched", []).append(interleaved(plain, chained, rng, batches * BATCH, BATCH, 2))
        for mode in ("single", "batched"):
            p, c = median([r[0] for r in results[mode]]), median([r[1] for r in results[mode]])
            label = "1 event/txn" if mode == "single" else f"{BATCH} events/txn"
            print(f"{backend:10} {label:15} plain {p:9,.0f} ev/s   chained {c:9,.0f} ev/s   cost {100 * (1 - c / p):5.1f}%  (target ≤ 10%)")
    if backend == "postgresql":
        drop_pg("gl_bench_plain")
        drop_pg("gl_bench_chained")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single", type=int, default=1000, help="single-event transactions per round")
    parser.add_argument("--batches", type=int, default=100, help="100-event transactions per round")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"append throughput, median of {args.rounds} rounds, plain and chained interleaved")
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run(backend, args.rounds, args.single, args.batches)


if __name__ == "__main__":
    main()
