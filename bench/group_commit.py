"""Audited predictions through group commit, against one save() per event from the same threads (target: ≥ 1,000
committed events/s at p99 ≤ 50 ms, before HTTP).

Each call records one brand-new aggregate with one ~300-byte event (a prediction), on a fresh migrated database
through the governance application's chained recorders. "save" calls `app.save(prediction)` from every thread;
"group" calls `GroupCommitter.submit([prediction])`, lingering `max_wait` for company when its writer was idle.
Latency is the call's, from before the aggregate is made to the answer; events/s counts committed events over the
run. For each thread count the modes alternate in rounds on the same database, so a shared machine's drift hits all
of them alike.

    python bench/group_commit.py [--seconds 6] [--rounds 3] [--threads 1,8,32,64] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from common import drop_pg, fresh_pg, fresh_sqlite, pct
from eventsourcing.domain import Aggregate, event

from domain.application import Governance
from ledger.database import Database
from ledger.group_commit import GroupCommitter

PG_NAME = "gl_bench_group_commit"


class Prediction(Aggregate):
    @event("Made")
    def __init__(self, id: uuid.UUID, model_id: str, version: int, inputs_hash: str, output: dict, latency_ms: float):
        self.model_id, self.version, self.inputs_hash, self.output, self.latency_ms = (
            model_id, version, inputs_hash, output, latency_ms)


def prediction(i: int) -> Prediction:
    return Prediction(id=uuid.uuid4(), model_id="6f1c1a8e-credit-risk", version=3, inputs_hash=f"{i:064x}",
                      output={"label": i % 2, "probabilities": [0.31, 0.69]}, latency_ms=1.7)


class Counted:
    """Counts the recorder's transactions (calls to insert_events)."""

    def __init__(self, recorder) -> None:
        self.real, self.calls = recorder.insert_events, 0
        recorder.insert_events = self

    def __call__(self, stored, **kwargs):
        self.calls += 1
        return self.real(stored, **kwargs)


def measure(record: Callable[[int], object], threads: int, seconds: float) -> tuple[int, float, list[float]]:
    """(calls, elapsed s, latencies in s) of `threads` threads calling `record` until `seconds` have passed."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    stop = time.perf_counter() + seconds + 0.5  # the barrier's wait is not in the run

    def caller(t: int) -> None:
        mine, i = latencies[t], t * 10_000_000
        start.wait()
        while (before := time.perf_counter()) < stop:
            record(i)
            mine.append(time.perf_counter() - before)
            i += 1

    workers = [threading.Thread(target=caller, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    flat = [x for mine in latencies for x in mine]
    return len(flat), time.perf_counter() - began, flat


def run(backend: str, db: Database, thread_counts: list[int], seconds: float, rounds: int, waits: list[float]) -> None:
    app = Governance(env=db.eventsourcing_env())
    counted = Counted(app.recorder)
    modes: list[tuple[str, Callable[[int], object], Callable[[], None]]] = [
        ("save per event", lambda i: app.save(prediction(i)), lambda: None)]
    for wait in waits:
        committer = GroupCommitter(app, max_wait_s=wait)
        modes.append((f"group, wait {wait * 1000:g} ms", lambda i, c=committer: c.submit([prediction(i)]),
                      committer.close))
    measure(modes[-1][1], 4, 0.5)  # warm up connections and caches
    for threads in thread_counts:
        totals = {name: [0, 0.0, [], 0] for name, _, _ in modes}  # calls, seconds, latencies, transactions
        for _ in range(rounds):  # the modes alternate, so the drift of a shared machine hits them alike
            for name, record, _ in modes:
                transactions = counted.calls
                calls, elapsed, latencies = measure(record, threads, seconds / rounds)
                total = totals[name]
                total[0] += calls
                total[1] += elapsed
                total[2] += latencies
                total[3] += counted.calls - transactions
        for name, (calls, elapsed, latencies, transactions) in totals.items():
            print(f"{backend:10} {threads:3} threads  {name:18} {calls / elapsed:8,.0f} ev/s  p50 {pct(latencies, 50) * 1e3:6.2f}"
                  f"  p95 {pct(latencies, 95) * 1e3:6.2f}  p99 {pct(latencies, 99) * 1e3:6.2f} ms"
                  f"  {calls / max(1, transactions):5.1f} ev/txn", flush=True)
    for _, _, close in modes:
        close()
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="per thread count and mode")
    parser.add_argument("--rounds", type=int, default=3, help="the modes alternate this many times per thread count")
    parser.add_argument("--threads", default="1,8,32,64")
    parser.add_argument("--waits", default="0,2", help="max_wait values of the group modes, in ms")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    waits = [float(w) / 1000 for w in args.waits.split(",")]
    print(f"one new aggregate, one event per call; {args.seconds:g} s per row in {args.rounds} alternating rounds;"
          " latency of the call")
    for backend in (["postgresql", "sqlite"] if args.backend == "both" else [args.backend]):
        if backend == "postgresql":
            run(backend, fresh_pg(PG_NAME), thread_counts, args.seconds, args.rounds, waits)
            drop_pg(PG_NAME)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run(backend, fresh_sqlite(Path(tmp), "group_commit"), thread_counts, args.seconds, args.rounds, waits)


if __name__ == "__main__":
    main()
