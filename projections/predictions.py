"""The predictions read model: one row per recorded prediction (shadow scores included, marked), and what it answers —
a prediction by request id, a subject's or a version's predictions over a period, and the routing's traffic.

The input is not here: it may be personal data, encrypted in the ledger under its subject's key; a reader who may see
it reads it from the ledger. Rows are insert-only, numbered by notification id, so a read as of any position is a
filter on that number.
"""

from __future__ import annotations

from typing import Any

from .registry import kind_of
from .rows import Rows, dumps


class PredictionsView:
    """Applies Prediction.Recorded events (inside the projector's transaction)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        if kind_of(event) != ("Prediction", "Recorded"):
            return
        self.rows.insert("predictions", {
            "notification_id": nid, "prediction_id": str(event.originator_id), "request_id": event.request_id,
            "recorded_at": recorded_at, "routing_config_id": str(event.routing_config_id), "revision": event.revision,
            "key_id": event.key_id, "rule": event.rule, "branch": event.branch, "bucket": event.bucket,
            "version_id": str(event.version_id), "model_id": str(event.model_id),
            "deployment_id": str(event.deployment_id), "shadow": int(bool(event.shadow)),
            "subject_id": event.subject_id, "prediction": dumps(event.prediction), "score": event.score,
            "explanation": dumps(event.explanation), "latency_ms": event.latency_ms})


def traffic(conn: Any, p: str, *, nid: int, start: str, end: str, config_id: str | None,
            prices: dict[str, float]) -> dict[str, Any]:
    """Who answered how much in [start, end) as of notification `nid`: shares per version and per target size, and
    the estimated cost (price per 1,000 predictions by size, shadow scores included since they cost as much) against
    the same traffic all served at the dearest size in use — what the routing saved."""
    where = [f"pr.notification_id <= {p}", f"pr.recorded_at >= {p}", f"pr.recorded_at < {p}"]
    args: list[Any] = [nid, start, end]
    if config_id is not None:
        where.append(f"pr.routing_config_id = {p}")
        args.append(config_id)
    rows = conn.execute(
        "SELECT pr.version_id, d.target, d.size, pr.shadow, COUNT(*) FROM predictions pr"
        " JOIN deployments d ON d.deployment_id = pr.deployment_id AND d.valid_to IS NULL"
        f" WHERE {' AND '.join(where)} GROUP BY pr.version_id, d.target, d.size, pr.shadow"
        " ORDER BY pr.version_id, d.target, d.size, pr.shadow", args).fetchall()
    answered = sum(n for *_, shadow, n in rows if not shadow)
    versions: dict[str, int] = {}
    sizes: dict[tuple[str, str], dict[str, int]] = {}
    for version, target, size, shadow, n in rows:
        if not shadow:
            versions[version] = versions.get(version, 0) + n
        entry = sizes.setdefault((target, size), {"answered": 0, "shadow": 0})
        entry["shadow" if shadow else "answered"] += n
    cost = {key: (c["answered"] + c["shadow"]) * prices.get(key[1], 0.0) / 1000 for key, c in sizes.items()}
    used = [size for _, size in sizes] or ["small"]
    dearest = max(used, key=lambda s: prices.get(s, 0.0))
    everything = sum(c["answered"] + c["shadow"] for c in sizes.values())
    baseline = everything * prices.get(dearest, 0.0) / 1000
    total = sum(cost.values())
    return {
        "from": start, "to": end, "routing_config_id": config_id, "predictions": answered,
        "shadow_predictions": everything - answered,
        "by_version": [{"version_id": v, "predictions": n, "share": n / answered if answered else 0.0}
                       for v, n in versions.items()],
        "by_size": [{"target": t, "size": s, "predictions": c["answered"], "shadow_predictions": c["shadow"],
                     "share": c["answered"] / answered if answered else 0.0, "cost": round(cost[(t, s)], 6)}
                    for (t, s), c in sizes.items()],
        "prices_per_1000": prices, "cost": round(total, 6), "cost_all_at_dearest_size": round(baseline, 6),
        "dearest_size": dearest, "saving": round(baseline - total, 6)}
