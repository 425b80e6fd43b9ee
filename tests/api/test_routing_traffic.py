"""The routing read model over HTTP: for a period, each version's and each size's share of the predictions, and the
estimated cost against the same traffic served at the dearest size — counted from recorded predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.predictions import Prediction
from tests.api.http_story import deployed_version, ok, refused, routing_body


def record(api, config: str, version: str, deployment: str, n: int, *, shadow: bool = False, rule: str | None = None):
    """n predictions as the prediction endpoint records them (the endpoint itself is tested elsewhere)."""
    model = str(api.app.repository.get(UUID(version)).model_id)
    api.app.save(*[Prediction(f"req-{version[:8]}-{shadow}-{i}", UUID(config), 1, "k1", rule, None, None, UUID(version),
                              UUID(model), UUID(deployment), shadow, None, {"income": 1.0}, None, True, 0.7,
                              {"base_value": 0.1, "contributions": {"income": 0.6}}, "ab" * 32, 3.5)
                   for i in range(n)])


def test_the_traffic_of_a_period_is_shared_by_version_and_size_and_priced_against_the_dearest_size(api):
    small_version, small = deployed_version(api, blob=b"small model", size="small")
    large_version, large = deployed_version(api, blob=b"large model", size="large")
    body = routing_body(large_version, rules=[{"name": "easy", "when": {"field": "income", "op": "gt", "value": 50_000},
                                               "version_id": small_version}], shadow_version_ids=[])
    config = ok(api.call("POST", "/v1/routing-configs", "mia", json=body), 201)["routing_config_id"]
    record(api, config, small_version, small, 75, rule="easy")
    record(api, config, large_version, large, 25)
    record(api, config, small_version, small, 10, shadow=True)
    api.project()
    today = datetime.now(UTC).date()
    found = ok(api.get("/v1/routing-traffic", "root", **{"from": str(today), "to": str(today), "routing_config_id": config}))
    everything = ok(api.get("/v1/routing-traffic", "root", **{"from": str(today), "to": str(today)}))
    assert everything["predictions"] > found["predictions"], "the story's own config answered some too"
    assert found["predictions"] == 100 and found["shadow_predictions"] == 10
    shares = {v["version_id"]: v["share"] for v in found["by_version"]}
    assert shares == {small_version: 0.75, large_version: 0.25}
    sizes = {(s["target"], s["size"]): s for s in found["by_size"]}
    assert sizes[("local", "small")]["predictions"] == 75 and sizes[("local", "small")]["shadow_predictions"] == 10
    prices = found["prices_per_1000"]
    assert found["cost"] == round((85 * prices["small"] + 25 * prices["large"]) / 1000, 6)
    assert found["dearest_size"] == "large" and found["cost_all_at_dearest_size"] == round(110 * prices["large"] / 1000, 6)
    assert found["saving"] > 0
    yesterday = today - timedelta(days=1)
    empty = ok(api.get("/v1/routing-traffic", "root", **{"from": str(yesterday), "to": str(yesterday)}))
    assert empty["predictions"] == 0 and empty["by_version"] == [] and empty["cost"] == 0
    before = ok(api.get("/v1/routing-traffic", "aud", **{"from": str(today), "to": str(today), "routing_config_id": config,
                                                          "as_of": found["as_of_position"] - 20}))
    assert before["predictions"] < 100, "as of an earlier position, fewer predictions were recorded"


def test_a_reversed_period_is_refused_and_data_scientists_do_not_read_routing_traffic(api):
    refused(api.get("/v1/routing-traffic", "root", **{"from": "2026-06-02", "to": "2026-06-01"}), 400, "invalid_argument")
    refused(api.get("/v1/routing-traffic", "dana", **{"from": "2026-06-01", "to": "2026-06-01"}), 403, "forbidden")
