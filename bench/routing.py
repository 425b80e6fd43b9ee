"""Routing decisions per second for a 10-rule config (target ≥ 100,000/s), in one process.

Two loads: requests drawn at random (each rule, the split and the default answer some of them), and the worst case,
where every request is tried against all nine ordinary rules and ends in the split, which hashes its id.

    python bench/routing.py [--decisions 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.routing_rules import VersionFacts, check_config, route  # noqa: E402

SCHEMA = {"age": "integer", "income": "float", "member": "boolean", "region": "category", "channel": "string",
          "signed_up": "datetime"}
VERSIONS = [str(uuid.UUID(int=n)) for n in range(1, 13)]
SALT = str(uuid.UUID(int=99))


def config() -> dict:
    v = VERSIONS
    rules = [
        {"name": "minors", "when": {"field": "age", "op": "lt", "value": 18}, "version_id": v[0]},
        {"name": "seniors abroad", "when": {"all": [{"field": "age", "op": "ge", "value": 70},
                                                     {"field": "region", "op": "in", "value": ["eu", "apac"]}]},
         "version_id": v[1]},
        {"name": "high income members", "when": {"all": [{"field": "income", "op": "gt", "value": 250_000.0},
                                                          {"field": "member", "op": "eq", "value": True}]},
         "version_id": v[2]},
        {"name": "no income", "when": {"field": "income", "op": "is_null"}, "version_id": v[3]},
        {"name": "branch channel", "when": {"field": "channel", "op": "eq", "value": "branch"}, "version_id": v[4]},
        {"name": "new customers", "when": {"field": "signed_up", "op": "ge", "value": "2025-06-01T00:00:00+00:00"},
         "version_id": v[5]},
        {"name": "latam or africa", "when": {"any": [{"field": "region", "op": "eq", "value": "latam"},
                                                     {"field": "region", "op": "eq", "value": "africa"}]},
         "version_id": v[6]},
        {"name": "mid income young", "when": {"all": [{"field": "age", "op": "lt", "value": 25},
                                                      {"field": "income", "op": "ge", "value": 40_000.0},
                                                      {"field": "income", "op": "lt", "value": 90_000.0}]},
         "version_id": v[7]},
        {"name": "not members", "when": {"field": "member", "op": "ne", "value": True}, "version_id": v[8]},
        {"name": "canary", "when": {"field": "age", "op": "ge", "value": 18},
         "split": [{"version_id": v[9], "weight": 10}, {"version_id": v[10], "weight": 90}]},
    ]
    return {"name": "bench", "rules": rules, "default_version_id": v[11]}


def random_request(rng: random.Random) -> dict:
    features = {"age": rng.randint(10, 90), "income": None if rng.random() < 0.05 else rng.uniform(0, 400_000),
                "member": rng.random() < 0.5, "region": rng.choice(["na", "eu", "apac", "latam", "africa"]),
                "channel": rng.choice(["web", "app", "branch"]),
                "signed_up": f"202{rng.randint(0, 5)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:00:00Z"}
    return {k: x for k, x in features.items() if rng.random() < 0.95}  # a few missing


def worst_case(rng: random.Random) -> dict:
    return {"age": rng.randint(30, 60), "income": 100_000.0, "member": True, "region": "na", "channel": "web",
            "signed_up": "2020-01-01T00:00:00Z"}


def measure(rules, requests: list[tuple[dict, str]], rounds: int) -> tuple[float, Counter]:
    """The best of a few rounds: the machine is shared, and the best round is the one least disturbed."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        decisions = [route(rules, features, request_id, SALT) for features, request_id in requests]
        best = max(best, len(requests) / (time.perf_counter() - started))
    return best, Counter(d.rule for d in decisions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.decisions
    rules = check_config(config(), {v: VersionFacts(SCHEMA, deployed=True) for v in VERSIONS})
    rng = random.Random(7)
    for load, make in (("random requests", random_request), ("worst case: every rule tried, then the split", worst_case)):
        requests = [(make(rng), str(uuid.UUID(int=rng.getrandbits(128)))) for _ in range(n)]
        rate, by_rule = measure(rules, requests, args.rounds)
        shares = ", ".join(f"{rule or 'default'} {count / n:.0%}" for rule, count in by_rule.most_common())
        print(f"{load}: {rate:,.0f} decisions/s (target ≥ 100,000)\n    answered by: {shares}")


if __name__ == "__main__":
    main()
