"""Verification, proof and sealing figures on a ledger of 10⁶ events, against their targets.

1. builds a store of N events (default 10⁶) through the chained recorder, 1,000 per transaction;
2. seals it, and prints sealing throughput;
3. `verify_store` over all of it: verified events/s (target ≥ 200,000), and the same check done
   offline in memory by ledger_tools alone (leaf, chain, root) for comparison;
4. inclusion proofs in the N-leaf tree read from storage and verified: p50/p99 (target ≤ 1 ms);
5. offline verification of an exported bundle (`ledger_tools.verify_bundle`, what a regulator runs): events/s;
6. sealing lag under load: a writer process commits single events while `govledger seal` runs; for
   each event, the time from its commit to the signing of the first checkpoint covering it
   (target ≤ 1 s).

    python bench/verify.py [--events 1000000] [--backend postgresql|sqlite] [--load-seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import drop_pg, fresh_pg, fresh_sqlite, pct, stored_events

from ledger.database import Database
from ledger.export import by_positions, export_bundle
from ledger.keys import create_signing_key
from ledger.recorders import ChainedPostgresFactory, ChainedSQLiteFactory
from ledger.sealer import seal_once
from ledger.tree import stored_inclusion
from ledger.verify import verify_store
from ledger_tools import CompactRange, verify_inclusion
from ledger_tools.bundle import verify_bundle
from ledger_tools.chain import GENESIS, chain_events


def recorder(db: Database):
    factory = (ChainedSQLiteFactory if db.is_sqlite else ChainedPostgresFactory)(db.eventsourcing_env())
    return factory.application_recorder()


def build(db: Database, n: int) -> float:
    rec, rng = recorder(db), random.Random(7)
    started = time.perf_counter()
    for done in range(0, n, 1000):
        rec.insert_events(stored_events(min(1000, n - done), rng, per_aggregate=10))
        if done and done % 100_000 == 0:
            print(f"  built {done:,} events", flush=True)
    return n / (time.perf_counter() - started)


def settle(db: Database, tables: str) -> None:
    """VACUUM ANALYZE after bulk loading, as an operator would, so autovacuum does not run during the timings."""
    if not db.is_sqlite:
        import psycopg

        with psycopg.connect(host=db.host, port=db.port, user=db.user, dbname=db.dbname, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {tables}")


def offline_rate(db: Database, conn) -> float:
    """ledger_tools alone over rows already in memory: leaf and chain hashes and the root (best of 3)."""
    oid = "originator_id" if db.is_sqlite else "originator_id::text"
    rows = conn.execute(f"SELECT {oid}, originator_version, topic, state FROM ledger_events ORDER BY {db.nid_column} LIMIT 200000").fetchall()
    fix = (lambda o: f"{o[:8]}-{o[8:12]}-{o[12:16]}-{o[16:20]}-{o[20:]}") if db.is_sqlite else str
    events = [(fix(o), v, t, bytes(s)) for o, v, t, s in rows]
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        tree = CompactRange()
        for leaf, _ in chain_events(GENESIS, events):
            tree.append(leaf)
        tree.root()
        best = max(best, len(events) / (time.perf_counter() - started))
    return best


def _load_writer(url: str, seconds: float, out) -> None:
    db = Database.from_url(url)
    rec, rng = recorder(db), random.Random(11)
    commits = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ids = rec.insert_events(stored_events(1, rng))
        commits.append((ids[0] - 1, time.time()))
    out.put(commits)


def sealing_lag(db: Database, url: str, key: Path, seconds: float) -> list[float]:
    env = {**os.environ, "GOVLEDGER_DATABASE_URL": url, "GOVLEDGER_SIGNING_KEY": str(key), "GOVLEDGER_SEAL_INTERVAL": "0.2"}
    sealer = subprocess.Popen([sys.executable, "-m", "govledger.cli", "seal"], env=env, stderr=subprocess.DEVNULL)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    writers = [ctx.Process(target=_load_writer, args=(url, seconds, queue)) for _ in range(2)]
    for w in writers:
        w.start()
    commits = [c for _ in writers for c in queue.get()]
    for w in writers:
        w.join()
    time.sleep(1.5)
    sealer.terminate()
    sealer.wait(timeout=20)
    with db.connect() as conn:
        seals = [(size, datetime.fromisoformat(str(at)).timestamp())
                 for size, at in conn.execute("SELECT tree_size, signed_at FROM ledger_checkpoints ORDER BY tree_size")]
    lags = []
    for position, committed in commits:
        signed = next(at for size, at in seals if size > position)
        lags.append(max(0.0, signed - committed))
    print(f"  load: {len(commits):,} single-event commits from 2 writer processes in {seconds:.0f} s, {len(seals):,} checkpoints")
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--bundle-events", type=int, default=200_000, help="events in the exported bundle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = fresh_pg("gl_bench_verify") if args.backend == "postgresql" else fresh_sqlite(Path(tmp), "verify")
        url = db.describe() if db.is_sqlite else db.describe().split("?")[0]
        key = Path(tmp) / "signing.key"
        signer = create_signing_key(key, "bench.govledger/ledger")
        print(f"{args.backend}: building {args.events:,} events")
        print(f"  append (1,000 events/txn): {build(db, args.events):,.0f} events/s")
        with db.connect() as conn:
            started = time.perf_counter()
            while seal_once(db, conn, signer, batch=100_000) is not None:
                pass
            print(f"  seal: {args.events / (time.perf_counter() - started):,.0f} events/s into the stored tree")
            settle(db, "ledger_events, ledger_tree_nodes, ledger_checkpoints")
            started = time.perf_counter()
            report = verify_store(db, conn, signer.verifier)
            rate = report.events / (time.perf_counter() - started)
            print(f"verify (govledger verify, from the database): {rate:,.0f} events/s over {report.events:,} events (target ≥ 200,000)")
            print(f"offline core (ledger_tools: leaf + chain + root, in memory): {offline_rate(db, conn):,.0f} events/s")
            rng = random.Random(3)
            size = report.sealed
            times = []
            for _ in range(args.proofs):
                i = rng.randrange(size)
                started = time.perf_counter()
                leaf, proof = stored_inclusion(db, conn, i, size)
                verify_inclusion(i, size, leaf, proof, report.latest.root)
                times.append(time.perf_counter() - started)
            conn.rollback()
        print(f"inclusion proof in a {size:,}-leaf tree, fetched from storage and verified: "
              f"p50 {pct(times, 50) * 1e3:.3f} ms, p99 {pct(times, 99) * 1e3:.3f} ms (target ≤ 1 ms)")
        with db.connect() as conn:
            bundle_events = min(args.bundle_events, report.sealed)
            selection = by_positions(db, conn, 0, bundle_events - 1)
            started = time.perf_counter()
            export_bundle(db, conn, signer.verifier, selection, Path(tmp) / "bundle")
            exported = bundle_events / (time.perf_counter() - started)
            conn.rollback()
        started = time.perf_counter()
        checked = verify_bundle(Path(tmp) / "bundle", str(signer.verifier)).events
        print(f"offline bundle verification ({checked:,} events, ledger_tools only): "
              f"{checked / (time.perf_counter() - started):,.0f} events/s (target ≥ 200,000); export {exported:,.0f} events/s")
        lags = sealing_lag(db, url, key, args.load_seconds)
        print(f"sealing lag under load (commit → signed checkpoint): p50 {pct(lags, 50) * 1e3:.0f} ms, "
              f"p99 {pct(lags, 99) * 1e3:.0f} ms, max {max(lags) * 1e3:.0f} ms (target ≤ 1 s)")
    if args.backend == "postgresql":
        drop_pg("gl_bench_verify")


if __name__ == "__main__":
    main()
