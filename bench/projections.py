"""Projection figures: a full rebuild in events/s (target ≥ 20,000), `as_of` latency over HTTP on 10⁶ events (p95 ≤ 100 ms).

The ledger is built through the domain's own aggregates, shaped like a year of governance: datasets, models with
their compliance configuration and sections, versions walking the lifecycle to deployment, batch runs, refused
attempts and users. Queries go through the API in-process (authentication, role checks, as_of resolution, JSON),
at random positions, by position and by time, on each list and on one model.

    python bench/projections.py [--events 1000000] [--db postgresql|sqlite] [--queries 400]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.deps import Services  # noqa: E402
from bench.common import drop_pg, fresh_pg, fresh_sqlite, pct  # noqa: E402
from domain.application import Governance  # noqa: E402
from ledger_tools.note import generate_signer  # noqa: E402
from projections.runner import Projector  # noqa: E402
from tests.projections.story import history  # noqa: E402


def build(app: Governance, events: int, rng: random.Random) -> tuple[int, float]:
    admin = app.authenticate(KEYS["root"])
    for name, role in (("dana", "data_scientist"), ("mia", "manager"), ("cora", "compliance_manager"), ("aud", "auditor")):
        app.create_user(admin, name, role)
        KEYS[name] = app.issue_api_key(admin, name, "bench").api_key
    owner, reviewer = app.authenticate(KEYS["dana"]).user_id, app.authenticate(KEYS["mia"]).user_id
    start = time.perf_counter()
    written = history(app, events, rng, owner, reviewer)
    return written, time.perf_counter() - start


KEYS: dict[str, str] = {}


def query_latencies(client: TestClient, app: Governance, end: int, count: int, rng: random.Random) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {KEYS['aud']}"}
    models = client.get("/v1/models", headers=headers, params={"limit": 500}).json()["items"]
    times = {}
    for n in (1, end // 2, end):
        event = app.mapper.to_domain_event(app.recorder.select_notifications(start=n, limit=1)[0])
        times[n] = event.timestamp.isoformat()
    first, last = min(times.values()), max(times.values())
    kinds = {
        "models": lambda p: ("/v1/models", {"as_of": p}),
        "versions": lambda p: ("/v1/versions", {"as_of": p}),
        "compliance": lambda p: ("/v1/compliance", {"as_of": p}),
        "audit-trail": lambda p: ("/v1/audit-trail", {"as_of": p, "order": "desc"}),
        "audit-trail of a model": lambda p: ("/v1/audit-trail", {"as_of": p, "model_id": rng.choice(models)["model_id"]}),
        "one model's compliance": lambda p: (f"/v1/models/{rng.choice(models)['model_id']}/compliance", {"as_of": p}),
        "versions as of a time": lambda p: ("/v1/versions", {"as_of": first if p % 2 else last}),
    }
    out: dict[str, list[float]] = {k: [] for k in kinds}
    for name, make in kinds.items():
        for _ in range(count):
            position = rng.randrange(end // 2, end)  # models exist from the first cycle; ask across the ledger
            path, params = make(position)
            started = time.perf_counter()
            response = client.get(path, headers=headers, params=params)
            out[name].append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 404):
                raise SystemExit(f"{path} {params}: {response.status_code} {response.text}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database gl_bench_projections afterwards")
    args = parser.parse_args()
    rng = random.Random(7)
    workdir = tempfile.TemporaryDirectory()
    db = fresh_pg("gl_bench_projections") if args.db == "postgresql" else fresh_sqlite(Path(workdir.name), "projections")
    try:
        app = Governance(env=db.eventsourcing_env())
        KEYS["root"] = app.create_admin("root").api_key
        end, seconds = build(app, args.events, rng)
        print(f"{args.db}: built a ledger of {end:,} events in {seconds:.0f} s")
        projector = Projector(db, app)
        started = time.perf_counter()
        projector.rebuild(progress=lambda done, total: print(f"\r  rebuilt {done:,}/{total:,}", end="", file=sys.stderr))
        rebuild = time.perf_counter() - started
        print(file=sys.stderr)
        print(f"full rebuild of every read model: {end / rebuild:,.0f} events/s ({rebuild:.1f} s)   target ≥ 20,000")
        client = TestClient(create_app(Services(app, db, generate_signer("bench.govledger/ledger").verifier)))
        latencies = query_latencies(client, app, end - 1, args.queries, rng)
        print(f"as_of queries over HTTP at random positions ({args.queries} each)   target p95 ≤ 100 ms")
        for name, values in latencies.items():
            print(f"  {name:<24} p50 {pct(values, 50):6.1f} ms   p95 {pct(values, 95):6.1f} ms   max {max(values):6.1f} ms")
    finally:
        if args.db == "postgresql" and not args.keep:
            drop_pg("gl_bench_projections")
        workdir.cleanup()


if __name__ == "__main__":
    main()
