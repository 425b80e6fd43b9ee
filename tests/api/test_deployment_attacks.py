"""Attacks on deployments and routing over HTTP, as a user who has only the README and docs/ would make them.

Every refusal must be a JSON error {"error": {"code", "message"}} with the right status, never a 500; a rejected
request records nothing, except exactly one AccessDenied for a refused role, ownership or rule (403 and the rules'
409s); a refused routing config is a 422 naming the rule and the field. Routing keys are checked only by the domain's
`authenticate_routing_key`, so the key attacks call it directly."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest

from domain.batch import REPORTS
from domain.errors import Unauthenticated
from tests.api.http_story import (
    approved_version,
    computed_run,
    deployed_version,
    document,
    new_version,
    ok,
    provisioned,
    refused,
    released,
    routing_body,
)

SCHEMA = {"age": "integer", "income": "float", "region": "category", "name": "string"}
ROLES = ("root", "mia", "cora", "dana", "aud")
NOT_MANAGERS = ("root", "cora", "dana", "aud")
JSON = {"content-type": "application/json"}


# --- helpers --------------------------------------------------------------------------------------------------------

def send(api: Any, method: str, path: str, who: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> tuple[Any, int]:
    """The answer and how many events it recorded."""
    before = api.events()
    response = api.client.request(method, path, headers={"Authorization": f"Bearer {api.keys[who]}", **(headers or {})},
                                  **kwargs)
    return response, api.events() - before


def topics(api: Any, count: int) -> list[str]:
    """The topics of the last `count` events."""
    found = api.app.recorder.select_notifications(start=api.events() - count + 1, limit=count)
    return [n.topic.rsplit(":", 1)[-1] for n in found]


def error(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, response.text
    return body["error"]


def rejected(api: Any, method: str, path: str, who: str, status: int, code: str, *, recorded: int = 0,
             **kwargs: Any) -> str:
    """Asserts a clear JSON error that recorded exactly `recorded` events; its message."""
    response, delta = send(api, method, path, who, **kwargs)
    assert response.status_code == status, f"{method} {path} as {who}: {response.status_code} {response.text[:300]}"
    err = error(response)
    assert err["code"] == code, response.text[:300]
    assert delta == recorded, f"{method} {path} as {who} recorded {delta} events, expected {recorded}"
    if recorded == 1:
        assert topics(api, 1) == ["Refusal.AccessDenied"], topics(api, 1)
    return err["message"]


def bad_routing(api: Any, body: Any, *, rule: str | None, field: str, raw: str | None = None) -> str:
    """A routing config refused with 422 invalid_routing naming the rule and the field, recording nothing."""
    kwargs: dict[str, Any] = {"content": raw, "headers": JSON} if raw is not None else {"json": body}
    message = rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_routing", **kwargs)
    if rule is not None:
        assert f"rule '{rule}'" in message, message
    assert f"field '{field}'" in message, message
    return message


def bad_request(api: Any, raw: str | bytes, path: str = "/v1/routing-configs", method: str = "POST") -> str:
    return rejected(api, method, path, "mia", 422, "invalid_request", content=raw, headers=JSON)


def leaf(field: str, op: str, value: Any = ...) -> dict[str, Any]:
    return {"field": field, "op": op} if value is ... else {"field": field, "op": op, "value": value}


def rule(name: str, when: Any, version: str) -> dict[str, Any]:
    return {"name": name, "when": when, "version_id": version}


def split_rule(name: str, *entries: tuple[str, Any]) -> dict[str, Any]:
    return {"name": name, "when": leaf("age", "ge", 0), "split": [{"version_id": v, "weight": w} for v, w in entries]}


def add_user(api: Any, name: str, role: str) -> None:
    ok(api.call("POST", "/v1/users", "root", json={"username": name, "role": role}), 201)
    api.keys[name] = ok(api.call("POST", f"/v1/users/{name}/keys", "root", json={"label": "t"}), 201)["api_key"]


def wide_version(api: Any, blob: bytes, trainer: str = "dana") -> str:
    """An approved version taking SCHEMA (age, income, region, name), trained by `trainer`; its id."""
    dataset = ok(api.call("POST", "/v1/datasets", trainer, json={
        "name": "wide", "source": "s3://bank/wide.csv", "schema": SCHEMA, "row_count": 10,
        "content_hash": hashlib.sha256(blob + b"data").hexdigest()}), 201)["dataset"]["dataset_id"]
    model = ok(api.call("POST", "/v1/models", trainer, json={"name": "wide", "description": "d"}), 201)["model"]["model_id"]
    version = ok(api.call("POST", f"/v1/models/{model}/versions", trainer, json={
        "artifact_base64": base64.b64encode(blob).decode(), "sha256": hashlib.sha256(blob).hexdigest(),
        "estimator": "e", "metrics": {"auc": 0.8}, "input_schema": SCHEMA, "target": "default",
        "dataset_ids": [dataset]}), 201)["version"]["version_id"]
    ok(api.call("POST", f"/v1/versions/{version}/export", trainer))
    profile = {c: {"type": t, "missing_share": 0.0, "distinct": 3} for c, t in {**SCHEMA, "default": "boolean"}.items()}
    owner = api.app.authenticate(api.keys[trainer])
    scoring = str(api.app.register_dataset(owner, name="scoring", source="upload:s.csv",
                                           schema={c: p["type"] for c, p in profile.items()}, row_count=10,
                                           content_hash=hashlib.sha256(blob + b"scoring").hexdigest(),
                                           source_kind="upload", profile=profile, snapshot=True).id)
    run = ok(api.call("POST", f"/v1/versions/{version}/batch-runs", "mia",
                      json={"dataset_id": scoring, "label_column": "default"}), 202)["job_id"]
    api.app.start_batch_run(UUID(run), worker="w1", attempt=1, lease_seconds=30)
    api.app.complete_batch_run(UUID(run), worker="w1", attempt=1, report_hashes={n: "ab" * 32 for n in REPORTS},
                               rows=10, summary={"drift": {"share_drifted": 0.0}}, metrics={"auc": 0.8},
                               drift_share=0.0, drift_detected=False, fairness_breach=False)
    document(api, model)
    ok(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok", "batch_run_id": run}))
    return version


def deploy(api: Any, version: str, who: str = "mia", **body: Any) -> str:
    return ok(api.call("POST", f"/v1/versions/{version}/deploy", who, json=body), 202)["deployment_id"]


def wide_deployed(api: Any, blob: bytes) -> tuple[str, str]:
    version = wide_version(api, blob)
    deployment = deploy(api, version)
    provisioned(api, deployment)
    return version, deployment


def config(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.call("POST", "/v1/routing-configs", "mia", json=body), 201)


def authenticate_refused(api: Any, token: Any) -> str | None:
    """None when the domain refuses the token as Unauthenticated, else what happened instead."""
    try:
        accepted = api.app.authenticate_routing_key(token)
    except Unauthenticated:
        return None
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        return f"{type(exc).__name__}: {exc}"
    return f"accepted as config {accepted.id}"


@pytest.fixture
def wide(api):
    """Three deployed versions taking SCHEMA: (a, b, c) with their deployments."""
    return [wide_deployed(api, f"wide-{n}".encode()) for n in "abc"]


# --- roles and ownership ---------------------------------------------------------------------------------------------

def test_every_role_but_manager_is_refused_every_deployment_and_routing_command_with_one_access_denied_each(api):
    served, deployment = deployed_version(api)
    waiting = approved_version(api, blob=b"waiting")
    queued = deploy(api, waiting)
    created = config(api, routing_body(served))
    routing = created["routing_config_id"]
    commands = [("POST", f"/v1/versions/{waiting}/deploy", {"json": {"target": "local"}}),
                ("POST", f"/v1/deployments/{deployment}/terminate", {"json": {"reason": "stop"}}),
                ("POST", "/v1/routing-configs", {"json": routing_body(served)}),
                ("PUT", f"/v1/routing-configs/{routing}", {"json": routing_body(served)}),
                ("POST", f"/v1/routing-configs/{routing}/rollback", {"json": {"revision": 1}}),
                ("POST", f"/v1/routing-configs/{routing}/key", {}),
                ("DELETE", f"/v1/routing-configs/{routing}/key", {}),
                ("POST", f"/v1/jobs/{queued}/cancel", {"json": {"reason": "mine now"}})]
    for who in NOT_MANAGERS:
        for method, path, kwargs in commands:
            rejected(api, method, path, who, 403, "forbidden", recorded=1, **kwargs)
    assert api.app.authenticate_routing_key(created["routing_key"]).id == UUID(routing)  # never rotated or revoked
    assert ok(api.get(f"/v1/routing-configs/{routing}", "mia"))["revision"] == 1


def test_every_reader_role_reads_routing_configs_and_a_data_scientist_is_refused_them_with_one_access_denied(api):
    served, _ = deployed_version(api)
    routing = config(api, routing_body(served))["routing_config_id"]
    api.project()
    for path in ("/v1/routing-configs", f"/v1/routing-configs/{routing}", f"/v1/routing-configs/{routing}/history"):
        for who in ("root", "mia", "cora", "aud"):
            response, delta = send(api, "GET", path, who)
            assert response.status_code == 200 and delta == 0, (path, who, response.text[:200])
        rejected(api, "GET", path, "dana", 403, "forbidden", recorded=1)


def test_a_manager_cancelling_another_managers_deployment_is_refused_with_one_access_denied(api):
    add_user(api, "max", "manager")
    queued = deploy(api, approved_version(api))
    message = rejected(api, "POST", f"/v1/jobs/{queued}/cancel", "max", 403, "forbidden", recorded=1,
                       json={"reason": "not mine"})
    assert "requester" in message
    assert ok(api.get(f"/v1/jobs/{queued}", "mia"))["state"] == "queued"
    assert ok(api.call("POST", f"/v1/jobs/{queued}/cancel", "mia", json={"reason": "mine"}))["state"] == "cancelled"


def test_a_data_scientist_reading_another_data_scientists_deployment_or_its_jobs_is_refused_and_recorded(api):
    add_user(api, "eve", "data_scientist")
    served, deployment = deployed_version(api)  # dana's model
    other, doomed = deployed_version(api, blob=b"doomed")
    termination = ok(api.call("POST", f"/v1/deployments/{doomed}/terminate", "mia", json={"reason": "gone"}), 202)["job_id"]
    api.project()
    model = ok(api.get(f"/v1/deployments/{deployment}", "mia"))["model_id"]
    for path in (f"/v1/deployments/{deployment}", f"/v1/jobs/{deployment}", f"/v1/jobs/{termination}"):
        rejected(api, "GET", path, "eve", 403, "forbidden", recorded=1)
    for params in ({}, {"model_id": model}, {"version_id": served}):
        response, delta = send(api, "GET", "/v1/deployments", "eve", params=params)
        assert response.status_code == 200 and response.json()["items"] == [] and delta == 0, response.text[:200]
    for params in ({}, {"kind": "deployment"}, {"kind": "termination"}, {"version_id": other}):
        response, delta = send(api, "GET", "/v1/jobs", "eve", params=params)
        assert response.status_code == 200 and response.json()["items"] == [] and delta == 0, response.text[:200]


def test_get_job_of_a_deployment_and_of_a_termination_answers_every_reader_role_and_the_owning_data_scientist(api):
    _, deployment = deployed_version(api)
    _, doomed = deployed_version(api, blob=b"doomed")
    termination = ok(api.call("POST", f"/v1/deployments/{doomed}/terminate", "mia", json={"reason": "gone"}), 202)["job_id"]
    for who in ROLES:
        for job, kind in ((deployment, "deployment"), (termination, "termination")):
            response, delta = send(api, "GET", f"/v1/jobs/{job}", who)
            assert response.status_code == 200 and delta == 0, (who, response.text[:200])
            assert response.json()["kind"] == kind
    rejected(api, "GET", f"/v1/jobs/{uuid.uuid4()}", "dana", 404, "not_found")


def test_as_of_on_deployments_and_routing_configs_is_refused_to_managers_and_data_scientists_and_recorded(api):
    served, deployment = deployed_version(api)
    routing = config(api, routing_body(served))["routing_config_id"]
    api.project()
    for who, paths in (("mia", ("/v1/deployments", f"/v1/deployments/{deployment}", "/v1/routing-configs",
                                f"/v1/routing-configs/{routing}")),
                       ("dana", ("/v1/deployments", f"/v1/deployments/{deployment}"))):
        for path in paths:
            rejected(api, "GET", path, who, 403, "forbidden", recorded=1, params={"as_of": "5"})


WEIRD_AS_OF = ["-1", "1e3", "1_0", "+5", " 5", "0x10", "\uff15", "\u0665", "5.0", "abc", "", "2026-13-45", "2026-02-30",
               "10000-01-01", "2026-06-15T00:00:00+25:00", "nan", "\x00", "\u00e9", "99999999999999999999999", "0001-01-01"]


def test_weird_as_of_values_on_deployments_and_routing_configs_are_400_invalid_argument(api):
    served, deployment = deployed_version(api)
    routing = config(api, routing_body(served))["routing_config_id"]
    api.project()
    for as_of in WEIRD_AS_OF:
        for path in ("/v1/deployments", f"/v1/deployments/{deployment}", "/v1/routing-configs",
                     f"/v1/routing-configs/{routing}"):
            rejected(api, "GET", path, "aud", 400, "invalid_argument", params={"as_of": as_of})


def test_as_of_a_position_before_a_deployment_or_config_existed_is_404_and_the_far_future_reads_now(api):
    served, deployment = deployed_version(api)
    routing = config(api, routing_body(served))["routing_config_id"]
    api.project()
    rejected(api, "GET", f"/v1/deployments/{deployment}", "aud", 404, "not_found", params={"as_of": "0"})
    rejected(api, "GET", f"/v1/routing-configs/{routing}", "aud", 404, "not_found", params={"as_of": "0"})
    assert ok(api.get("/v1/deployments", "aud", as_of="0"))["items"] == []
    late = ok(api.get(f"/v1/routing-configs/{routing}", "aud", as_of="9999-12-31T23:59:59-14:00"))
    assert late["revision"] == 1


def test_deployment_and_routing_lists_with_bad_filters_limits_or_cursors_are_clear_errors(api):
    for params, status, code in (({"status": "bogus"}, 422, "invalid_request"), ({"target": "gcp"}, 422, "invalid_request"),
                                 ({"version_id": "x"}, 422, "invalid_request"), ({"model_id": "x"}, 422, "invalid_request"),
                                 ({"limit": 0}, 422, "invalid_request"), ({"limit": 10 ** 20}, 422, "invalid_request"),
                                 ({"cursor": "abc"}, 400, "invalid_cursor")):
        rejected(api, "GET", "/v1/deployments", "mia", status, code, params=params)
    rejected(api, "GET", "/v1/routing-configs", "mia", 400, "invalid_cursor", params={"cursor": "x"})
    rejected(api, "GET", "/v1/jobs", "mia", 422, "invalid_request", params={"kind": "bogus"})


# --- routing keys ----------------------------------------------------------------------------------------------------

def test_forged_and_malformed_routing_keys_are_refused_as_unauthenticated(api):
    served, _ = deployed_version(api)
    created = config(api, routing_body(served))
    key, key_id = created["routing_key"], created["key_id"]
    secret = key.split("_", 2)[2]
    assert api.app.authenticate_routing_key(key).id == UUID(created["routing_config_id"])
    forged = ["", "grk_", "grk__", f"grk_{key_id}", f"grk_{key_id}_", f"grk_{key_id}_{secret[:-1]}",
              f"grk_{key_id}_{secret}=", f"grk_{key_id}_{secret}A", f"grk_{key_id.upper()}_{secret}", f"GRK_{key_id}_{secret}",
              f" {key}", f"{key} ", f"{key}\n", f"grk_{key_id}_{'A' * 43}", f"grk_{'0' * 16}_{secret}",
              f"grk_{key_id}_\x00{secret[1:]}", f"grk_{key_id}_{'é' * 43}", f"grk_{key_id}\ud800_{secret}",
              f"grk_{'g' * 16}_{secret}", "x" * 1_000_000, f"grk_{key_id}_{secret}_{secret}", api.keys["mia"],
              f"grk_{key_id}_{'+' * 43}", f"grk_{'１' * 16}_{secret}", f"grk_{key_id}_{'٥' * 43}",
              f"grk_{key_id}_{secret[:-1]}{chr(ord(secret[-1]) ^ 1)}", None]
    outcomes = {repr(token)[:60]: authenticate_refused(api, token) for token in forged}
    assert {t: o for t, o in outcomes.items() if o} == {}


def test_a_routing_key_given_as_bytes_or_a_number_is_refused_as_unauthenticated_not_a_type_error(api):
    served, _ = deployed_version(api)
    key = config(api, routing_body(served))["routing_key"]
    outcomes = {repr(token)[:40]: authenticate_refused(api, token) for token in (key.encode(), b"grk_", 5, 1.5, ["grk_"])}
    assert {t: o for t, o in outcomes.items() if o} == {}


def test_a_rotated_routing_key_stops_working_at_once_and_replaying_it_is_refused(api):
    served, _ = deployed_version(api)
    created = config(api, routing_body(served))
    routing, old = created["routing_config_id"], created["routing_key"]
    response, delta = send(api, "POST", f"/v1/routing-configs/{routing}/key", "mia")
    assert response.status_code == 201 and delta > 0, response.text
    new = response.json()["routing_key"]
    assert new != old and response.json()["key_id"] != created["key_id"]
    assert authenticate_refused(api, old) is None and authenticate_refused(api, old) is None  # replayed: still refused
    assert api.app.authenticate_routing_key(new).id == UUID(routing)


def test_a_revoked_routing_key_stops_working_revoking_again_records_nothing_and_a_new_key_works(api):
    served, _ = deployed_version(api)
    created = config(api, routing_body(served))
    routing, key = created["routing_config_id"], created["routing_key"]
    response, delta = send(api, "DELETE", f"/v1/routing-configs/{routing}/key", "mia")
    assert response.status_code == 200 and delta > 0 and response.json()["key_id"] is None, response.text[:300]
    assert authenticate_refused(api, key) is None
    response, delta = send(api, "DELETE", f"/v1/routing-configs/{routing}/key", "mia")
    assert response.status_code == 200 and delta == 0
    fresh = ok(api.call("POST", f"/v1/routing-configs/{routing}/key", "mia"), 201)["routing_key"]
    assert authenticate_refused(api, key) is None
    assert api.app.authenticate_routing_key(fresh).id == UUID(routing)


def test_a_routing_key_is_not_an_api_key_and_an_api_key_is_not_a_routing_key(api):
    served, _ = deployed_version(api)
    key = config(api, routing_body(served))["routing_key"]
    response = api.client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401 and error(response)["code"] == "unauthenticated"
    assert authenticate_refused(api, api.keys["mia"]) is None


def test_a_replayed_config_creation_or_key_rotation_never_shows_the_key_again_and_no_key_is_in_the_ledger(api):
    served, _ = deployed_version(api)
    first, delta = send(api, "POST", "/v1/routing-configs", "mia", json=routing_body(served), headers={"Idempotency-Key": "cfg-1"})
    assert first.status_code == 201 and delta > 0
    again, delta = send(api, "POST", "/v1/routing-configs", "mia", json=routing_body(served), headers={"Idempotency-Key": "cfg-1"})
    assert again.status_code == 201 and delta == 0 and again.json()["routing_key"] is None
    assert again.json()["routing_config_id"] == first.json()["routing_config_id"]
    routing = first.json()["routing_config_id"]
    rotated, _ = send(api, "POST", f"/v1/routing-configs/{routing}/key", "mia", headers={"Idempotency-Key": "rot-1"})
    replay, delta = send(api, "POST", f"/v1/routing-configs/{routing}/key", "mia", headers={"Idempotency-Key": "rot-1"})
    assert replay.status_code == 201 and delta == 0 and replay.json()["routing_key"] is None
    stored = b"".join(n.state for n in api.app.recorder.select_notifications(start=1, limit=1_000_000))
    for key in (first.json()["routing_key"], rotated.json()["routing_key"]):
        assert key.split("_", 2)[2].encode() not in stored, "a routing key's secret is in the ledger"


# --- absurd routing configs ------------------------------------------------------------------------------------------

def test_a_routing_config_nested_a_hundred_levels_deep_is_refused_with_422_naming_the_rule(api):
    served, _ = deployed_version(api)
    condition: Any = leaf("income", "ge", 0)
    for _ in range(100):
        condition = {"all": [condition]}
    bad_routing(api, routing_body(served, rules=[rule("deep", condition, served)]), rule="deep", field="all")


def test_a_routing_body_nested_deeper_than_the_json_parser_allows_is_422_invalid_request(api):
    served, _ = deployed_version(api)
    condition = json.dumps(leaf("income", "ge", 0))
    for _ in range(5000):
        condition = '{"any": [' + condition + "]}"
    raw = json.dumps(routing_body(served, rules=[rule("deeper", "HERE", served)])).replace('"HERE"', condition)
    assert "nest" in bad_request(api, raw)
    value = json.dumps(routing_body(served, rules=[rule("deep value", leaf("income", "in", "HERE"), served)]))
    assert "nest" in bad_request(api, value.replace('"HERE"', "[" * 50000 + "1" + "]" * 50000))


def test_ten_thousand_rules_are_refused_and_record_nothing(api):
    served, _ = deployed_version(api)
    rules = [{"name": str(i), "when": leaf("income", "eq", i), "version_id": served} for i in range(10_000)]
    response, delta = send(api, "POST", "/v1/routing-configs", "mia", json=routing_body(served, rules=rules))
    assert response.status_code in (413, 422) and delta == 0, response.text[:300]
    assert error(response)["code"] in ("body_too_large", "invalid_request", "invalid_routing")


def test_a_hundred_and_one_rules_are_refused_with_422_naming_the_rules(api):
    served, _ = deployed_version(api)
    rules = [rule(f"r{i}", leaf("income", "ge", i), served) for i in range(101)]
    message = rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_request", json=routing_body(served, rules=rules))
    assert "rules" in message


def test_a_condition_of_more_than_50_children_or_256_nodes_is_refused_naming_the_rule(api, wide):
    (a, _), (b, _), _ = wide
    bad_routing(api, routing_body(a, rules=[rule("wide", {"any": [leaf("age", "eq", i) for i in range(51)]}, b)]),
                rule="wide", field="any")
    big = {"any": [{"any": [leaf("age", "eq", i * 50 + j) for j in range(50)]} for i in range(6)]}
    bad_routing(api, routing_body(a, rules=[rule("big", big, b)]), rule="big", field="when")
    bad_routing(api, routing_body(a, rules=[rule("empty", {"all": []}, b)]), rule="empty", field="all")


def test_a_huge_in_list_is_refused_naming_the_rule_and_the_field(api):
    served, _ = deployed_version(api)
    bad_routing(api, routing_body(served, rules=[rule("big in", leaf("income", "in", list(range(100_000))), served)]),
                rule="big in", field="income")


def test_integers_beyond_int64_in_a_condition_are_refused_naming_the_rule_and_the_field(api, wide):
    (a, _), (b, _), _ = wide
    for value, field in ((v, f) for v in (2 ** 63, 2 ** 64, -(2 ** 63) - 1) for f in ("age", "income")):
        bad_routing(api, routing_body(a, rules=[rule("big int", leaf(field, "ge", value), b)]), rule="big int", field=field)
        bad_routing(api, routing_body(a, rules=[rule("big in", leaf(field, "in", [1, value]), b)]), rule="big in", field=field)


def test_an_integer_of_400_digits_or_a_float_beyond_range_in_a_raw_body_is_422_invalid_request(api):
    served, _ = deployed_version(api)
    template = json.dumps(routing_body(served, rules=[rule("huge", leaf("income", "ge", "HERE"), served)]))
    for number in ("1" * 400, "1" + "0" * 400, "1e400", "-1e400"):
        bad_request(api, template.replace('"HERE"', number))


def test_nan_and_infinity_in_a_raw_routing_body_are_422_invalid_request(api):
    served, _ = deployed_version(api)
    condition = json.dumps(routing_body(served, rules=[rule("nan", leaf("income", "ge", "HERE"), served)]))
    weight = json.dumps(routing_body(served, rules=[split_rule("nan", (served, "HERE"), (served, 50))]))
    for token in ("NaN", "Infinity", "-Infinity"):
        assert token in bad_request(api, condition.replace('"HERE"', token))
        bad_request(api, weight.replace('"HERE"', token))


def test_a_lone_surrogate_anywhere_in_a_routing_config_is_refused_with_422(api, wide):
    (a, _), (b, _), _ = wide
    body = json.dumps(routing_body(a, rules=[rule("RULE", leaf("FIELD", "eq", "VALUE"), b)]))

    def raw(**at: str) -> str:
        text = body.replace('"FIELD"', '"region"').replace('"VALUE"', '"north"').replace('"RULE"', '"r"')
        for name, replacement in at.items():
            text = text.replace({"rule": '"r"', "field": '"region"', "value": '"north"', "name": '"retail loans"'}[name],
                                replacement)
        return text

    bad_routing(api, None, rule="r", field="region", raw=raw(value='"\\ud800"'))
    bad_routing(api, None, rule="r", field="region", raw=raw(value='"a\\udfffb"'))
    bad_routing(api, None, rule="rules[0]", field="name", raw=raw(rule='"\\ud800"'))
    response, delta = send(api, "POST", "/v1/routing-configs", "mia", content=raw(field='"\\ud800"'), headers=JSON)
    assert response.status_code == 422 and delta == 0 and error(response)["code"] == "invalid_routing"
    rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_input", content=raw(name='"\\ud800"'), headers=JSON)


def test_nul_characters_anywhere_in_a_routing_config_are_refused_with_422(api, wide):
    (a, _), (b, _), _ = wide
    bad_routing(api, routing_body(a, rules=[rule("nul", leaf("region", "eq", "a\x00b"), b)]), rule="nul", field="region")
    bad_routing(api, routing_body(a, rules=[rule("nul", leaf("region", "in", ["a\x00b"]), b)]), rule="nul", field="region")
    bad_routing(api, routing_body(a, rules=[rule("a\x00b", leaf("age", "lt", 3), b)]), rule="rules[0]", field="name")
    rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_request", json=routing_body(a, name="a\x00b"))


def test_a_nul_in_a_condition_field_name_is_refused_naming_that_field_and_not_an_existing_one(api):
    served, _ = deployed_version(api)  # takes income
    message = bad_routing(api, routing_body(served, rules=[rule("a", leaf("inc\x00ome", "ge", 1), served)]),
                          rule="a", field="inc\\x00ome")
    assert not message.startswith("rule 'a', field 'income'"), message


def test_non_uuid_version_ids_in_a_routing_config_are_refused_naming_the_rule_and_the_field(api):
    served, _ = deployed_version(api)
    for bad in ("not-a-uuid", "{" + served + "}", served.replace("-", ""), "urn:uuid:" + served, " " + served):
        bad_routing(api, routing_body(bad), rule=None, field="default_version_id")
        bad_routing(api, routing_body(served, rules=[rule("x", leaf("income", "ge", 0), bad)]), rule="x", field="version_id")
        bad_routing(api, routing_body(served, shadow_version_ids=[bad]), rule=None, field="shadow_version_ids")
    bad_routing(api, routing_body(served, rules=[rule("x", leaf("income", "ge", 0), 5)]), rule="x", field="version_id")
    bad_routing(api, routing_body(str(uuid.uuid4())), rule=None, field="default_version_id")


def test_duplicate_json_keys_in_a_routing_body_are_422_invalid_request(api):
    served, _ = deployed_version(api)
    assert "twice" in bad_request(api, '{"name": "a", "name": "b", "rules": [], "default_version_id": "VERSION"}'
                                  .replace("VERSION", served))
    nested = ('{"name": "a", "rules": [{"name": "r", "when": {"field": "income", "field": "x", "op": "ge", "value": 1},'
              ' "version_id": "VERSION"}], "default_version_id": "VERSION"}').replace("VERSION", served)
    assert "twice" in bad_request(api, nested)


def test_a_weight_that_is_not_a_number_above_0_and_at_most_100_is_refused_naming_the_rule_and_weight(api, wide):
    (a, _), (b, _), (c, _) = wide
    for weight in (True, False, "50", None, [50], {"w": 50}, -10, 0, 101, 10 ** 30):
        bad_routing(api, routing_body(a, rules=[split_rule("canary", (b, weight), (c, 50))]), rule="canary", field="weight")


def test_weights_summing_to_99_9999_or_otherwise_not_to_100_are_refused_naming_the_rule(api, wide):
    (a, _), (b, _), (c, _) = wide
    for weights in ((90.0, 9.9999), (50, 49.99999), (50, 50.01)):
        message = bad_routing(api, routing_body(a, rules=[split_rule("canary", (b, weights[0]), (c, weights[1]))]),
                              rule="canary", field="weight")
        assert "100" in message


def test_a_split_weight_too_small_to_change_the_float_sum_is_refused_since_the_weights_do_not_sum_to_100(api, wide):
    (a, _), (b, _), (c, _) = wide
    accepted = []
    for weights in ((100, 5e-324), (1e-300, 100)):
        body = routing_body(a, rules=[split_rule("canary", (b, weights[0]), (c, weights[1]))])
        response, delta = send(api, "POST", "/v1/routing-configs", "mia", json=body)
        if response.status_code != 422 or delta:
            accepted.append((weights, response.status_code, delta))
        else:
            assert "rule 'canary', field 'weight'" in error(response)["message"]
    assert accepted == [], "split weights that do not sum to 100 were recorded"


def test_weights_that_sum_to_100_in_decimal_but_not_in_binary_floats_are_accepted(api, wide):
    (a, _), (b, _), (c, _) = wide
    assert 0.1 + 64.1 + 35.8 != 100
    config(api, routing_body(a, rules=[split_rule("thirds", (a, 0.1), (b, 64.1), (c, 35.8))]))


def test_a_split_with_one_entry_or_the_same_version_twice_is_refused_naming_the_rule(api, wide):
    (a, _), (b, _), _ = wide
    bad_routing(api, routing_body(a, rules=[split_rule("one", (b, 100))]), rule="one", field="split")
    bad_routing(api, routing_body(a, rules=[split_rule("twice", (b, 50), (b, 50))]), rule="twice", field="version_id")
    bad_routing(api, routing_body(a, rules=[split_rule("case", (b, 50), (b.upper(), 50))]), rule="case", field="version_id")
    eleven = {"name": "eleven", "when": leaf("age", "ge", 0), "split": [{"version_id": b, "weight": 100 / 11}] * 11}
    bad_routing(api, routing_body(a, rules=[eleven]), rule="eleven", field="split")


def test_a_shadow_that_also_answers_or_is_named_twice_is_refused(api, wide):
    (a, _), (b, _), (c, _) = wide
    bad_routing(api, routing_body(a, shadow_version_ids=[a]), rule=None, field="shadow_version_ids")
    bad_routing(api, routing_body(a, shadow_version_ids=[a.upper()]), rule=None, field="shadow_version_ids")
    bad_routing(api, routing_body(a.upper(), shadow_version_ids=[a]), rule=None, field="shadow_version_ids")
    bad_routing(api, routing_body(a, shadow_version_ids=[b, b.upper()]), rule=None, field="shadow_version_ids")
    bad_routing(api, routing_body(a, rules=[rule("r", leaf("age", "ge", 0), c)], shadow_version_ids=[c]),
                rule=None, field="shadow_version_ids")
    narrow, _ = deployed_version(api, blob=b"narrow")
    bad_routing(api, routing_body(a, shadow_version_ids=[narrow]), rule=None, field="shadow_version_ids")
    rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_request",
             json=routing_body(a, shadow_version_ids=[b, c, b, c, b, c]))


def test_conditions_whose_operator_or_value_does_not_fit_the_field_are_refused_naming_the_rule_and_field(api, wide):
    (a, _), (b, _), _ = wide
    cases = [("lt-category", leaf("region", "lt", "x"), "region"), ("string-number", leaf("age", "eq", "18"), "age"),
             ("bool-number", leaf("age", "eq", True), "age"), ("object", leaf("region", "eq", {"a": 1}), "region"),
             ("mixed-in", leaf("region", "in", ["a", 1]), "region"), ("nested-in", leaf("region", "in", [["a"]]), "region"),
             ("empty-in", leaf("region", "in", []), "region"), ("null-value", leaf("age", "eq", None), "age"),
             ("is-null-value", leaf("region", "is_null", 3), "region"), ("unknown-op", leaf("region", "like", "a"), "region"),
             ("unknown-field", leaf("salary", "gt", 3), "salary")]
    for name, when, field in cases:
        bad_routing(api, routing_body(a, rules=[rule(name, when, b)]), rule=name, field=field)


def test_an_all_that_can_never_hold_is_refused_naming_the_rule_and_the_field(api, wide):
    (a, _), (b, _), _ = wide
    never = {"all": [leaf("age", "lt", 18), leaf("age", "gt", 65)]}
    assert "never" in bad_routing(api, routing_body(a, rules=[rule("never", never, b)]), rule="never", field="age")


def test_malformed_rules_are_refused_naming_the_rule_and_the_field(api, wide):
    (a, _), (b, _), (c, _) = wide
    when = leaf("age", "lt", 3)
    cases = [({"name": "no-when", "version_id": b}, "no-when", "when"),
             ({"name": "both", "when": when, "version_id": b, "split": [{"version_id": b, "weight": 50},
                                                                        {"version_id": c, "weight": 50}]}, "both", "split"),
             ({"name": "neither", "when": when}, "neither", "version_id"),
             ({"name": "extra", "when": when, "version_id": b, "evil": 1}, "extra", "evil"),
             ({"name": 5, "when": when, "version_id": b}, "rules[0]", "name"),
             ({"name": "", "when": when, "version_id": b}, "rules[0]", "name"),
             ({"name": "x" * 100_000, "when": when, "version_id": b}, "rules[0]", "name"),
             ({"name": "split-object", "when": when, "split": {"version_id": b}}, "split-object", "split"),
             ({"name": "split-extra", "when": when, "split": [{"version_id": b, "weight": 50, "x": 1},
                                                              {"version_id": c, "weight": 50}]}, "split-extra", "x")]
    for body, rule_name, field in cases:
        bad_routing(api, routing_body(a, rules=[body]), rule=rule_name, field=field)
    bad_routing(api, routing_body(a, rules=[rule("dup", when, b), rule("dup", leaf("age", "lt", 4), c)]), rule="dup", field="name")
    for not_a_rule in ("string", None, 5, []):
        rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_request", json=routing_body(a, rules=[not_a_rule]))
    for top in ({"rules": None}, {"rules": {}}, {"shadow_version_ids": None}, {"name": 5}, {"name": "x" * 201},
                {"extra": 1}):
        rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_request", json=routing_body(a, **top))
    for name in ("", "   "):
        rejected(api, "POST", "/v1/routing-configs", "mia", 422, "invalid_input", json=routing_body(a, name=name))
    for raw in ("", "null", "[]", "not json", '{"name": "x"}'):
        bad_request(api, raw)


def test_routing_to_a_rejected_retired_terminated_or_never_deployed_version_is_refused_naming_the_field(api):
    _, rejected_version = new_version(api, blob=b"rejected")
    computed_run(api, rejected_version)
    ok(api.call("POST", f"/v1/versions/{rejected_version}/reject", "mia", json={"findings": "no"}))
    approved = approved_version(api, blob=b"approved only")
    retired = approved_version(api, blob=b"retired")
    ok(api.call("POST", f"/v1/versions/{retired}/retire", "mia", json={"reason": "old"}))
    terminated, deployment = deployed_version(api, blob=b"terminated")
    released(api, ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "gone"}), 202)["job_id"])
    served, _ = deployed_version(api, blob=b"served")
    for version in (rejected_version, approved, retired, terminated):
        bad_routing(api, routing_body(version), rule=None, field="default_version_id")
        bad_routing(api, routing_body(served, rules=[rule("to it", leaf("income", "ge", 0), version)]),
                    rule="to it", field="version_id")
        bad_routing(api, routing_body(served, shadow_version_ids=[version]), rule=None, field="shadow_version_ids")


def test_routing_to_a_version_whose_only_deployment_is_terminating_is_refused(api):
    version, deployment = deployed_version(api)
    ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "going"}), 202)
    bad_routing(api, routing_body(version), rule=None, field="default_version_id")


def test_routing_to_a_version_whose_deployment_is_queued_provisioning_or_cancelled_is_refused(api):
    version = approved_version(api)
    deployment = deploy(api, version)
    bad_routing(api, routing_body(version), rule=None, field="default_version_id")
    api.app.start_deployment(UUID(deployment), worker="w1", attempt=1, lease_seconds=30)
    bad_routing(api, routing_body(version), rule=None, field="default_version_id")
    ok(api.call("POST", f"/v1/jobs/{deployment}/cancel", "mia", json={"reason": "stop"}))
    bad_routing(api, routing_body(version), rule=None, field="default_version_id")


def test_a_rule_on_a_field_another_models_version_does_not_take_is_refused_naming_the_field(api, wide):
    (a, _), _, _ = wide
    narrow, _ = deployed_version(api, blob=b"narrow")  # another model, taking only income
    bad_routing(api, routing_body(a, rules=[rule("narrow", leaf("age", "lt", 3), narrow)]), rule="narrow", field="age")
    config(api, routing_body(a, rules=[rule("narrow", leaf("income", "lt", 3), narrow)]))


def test_put_on_a_routing_config_that_does_not_exist_is_404_and_on_a_non_uuid_is_422(api):
    served, _ = deployed_version(api)
    rejected(api, "PUT", f"/v1/routing-configs/{uuid.uuid4()}", "mia", 404, "not_found", json=routing_body(served))
    rejected(api, "PUT", "/v1/routing-configs/nope", "mia", 422, "invalid_request", json=routing_body(served))
    for path in (f"/v1/routing-configs/{uuid.uuid4()}/rollback", f"/v1/routing-configs/{uuid.uuid4()}/key"):
        rejected(api, "POST", path, "mia", 404, "not_found", json={"revision": 1})
    rejected(api, "DELETE", f"/v1/routing-configs/{uuid.uuid4()}/key", "mia", 404, "not_found")


def test_a_bad_put_records_nothing_and_leaves_the_revision_alone(api, wide):
    (a, _), (b, _), _ = wide
    routing = config(api, routing_body(a))["routing_config_id"]
    bad = routing_body(a, rules=[rule("never", {"all": [leaf("age", "lt", 18), leaf("age", "gt", 65)]}, b)])
    rejected(api, "PUT", f"/v1/routing-configs/{routing}", "mia", 422, "invalid_routing", json=bad)
    assert ok(api.get(f"/v1/routing-configs/{routing}", "mia"))["revision"] == 1


def test_rollback_to_revision_0_minus_1_10_to_the_30_or_a_string_is_refused_with_422_and_records_nothing(api):
    served, _ = deployed_version(api)
    routing = config(api, routing_body(served))["routing_config_id"]
    for revision, code in ((0, "invalid_request"), (-1, "invalid_request"), ("1", "invalid_request"),
                           (1.0, "invalid_request"), (True, "invalid_request"), (None, "invalid_request"),
                           (10 ** 30, "invalid_input"), (2 ** 63, "invalid_input"), (2, "invalid_input")):
        rejected(api, "POST", f"/v1/routing-configs/{routing}/rollback", "mia", 422, code, json={"revision": revision})
    assert ok(api.get(f"/v1/routing-configs/{routing}", "mia"))["revision"] == 1


def test_a_rollback_is_checked_against_todays_deployments(api):
    version, first = deployed_version(api)
    routing = config(api, routing_body(version))["routing_config_id"]
    second = deploy(api, version)
    provisioned(api, second)
    moved = ok(api.call("PUT", f"/v1/routing-configs/{routing}", "mia", json=routing_body(version, name="moved")))
    assert moved["rule_set"]["deployments"] == {version: second}
    ok(api.call("POST", f"/v1/deployments/{first}/terminate", "mia", json={"reason": "traffic moved"}), 202)
    back = ok(api.call("POST", f"/v1/routing-configs/{routing}/rollback", "mia", json={"revision": 1}))
    assert back["revision"] == 3 and back["rule_set"]["deployments"] == {version: second}
    history = ok(api.get(f"/v1/routing-configs/{routing}/history", "aud"))
    assert [h["revision"] for h in history] == [1, 2, 3] and history[-1]["rollback_of"] == 1


def test_ids_of_other_aggregates_in_deployment_and_routing_paths_are_404_never_500(api):
    version, deployment = deployed_version(api)
    routing = config(api, routing_body(version))["routing_config_id"]
    _, doomed = deployed_version(api, blob=b"doomed")
    termination = ok(api.call("POST", f"/v1/deployments/{doomed}/terminate", "mia", json={"reason": "x"}), 202)["job_id"]
    api.project()
    model = ok(api.get(f"/v1/deployments/{deployment}", "mia"))["model_id"]
    user = ok(api.get("/v1/users", "root"))["items"][0]["user_id"]
    for other in (version, model, deployment, termination, user):
        for method, path, kwargs in (("GET", f"/v1/routing-configs/{other}", {}),
                                     ("GET", f"/v1/routing-configs/{other}/history", {}),
                                     ("PUT", f"/v1/routing-configs/{other}", {"json": routing_body(version)}),
                                     ("POST", f"/v1/routing-configs/{other}/rollback", {"json": {"revision": 1}}),
                                     ("POST", f"/v1/routing-configs/{other}/key", {}),
                                     ("DELETE", f"/v1/routing-configs/{other}/key", {})):
            rejected(api, method, path, "mia", 404, "not_found", **kwargs)
    for other in (version, model, routing, termination, user):
        rejected(api, "GET", f"/v1/deployments/{other}", "mia", 404, "not_found")
        rejected(api, "GET", f"/v1/deployments/{other}", "aud", 404, "not_found", params={"as_of": str(api.events() - 1)})
        rejected(api, "POST", f"/v1/deployments/{other}/terminate", "mia", 404, "not_found", json={"reason": "x"})
    for other in (model, routing, deployment, termination, user):
        rejected(api, "POST", f"/v1/versions/{other}/deploy", "mia", 404, "not_found", json={})


# --- deploying and terminating ---------------------------------------------------------------------------------------

def test_deploy_with_an_unknown_target_or_size_extra_fields_or_a_body_that_is_not_an_object_is_422(api):
    version = approved_version(api)
    for body in ({"target": "gcp"}, {"target": "local", "size": "huge"}, {"target": "local", "extra": 1},
                 {"target": "LOCAL"}, {"size": None}, {"target": 5}, [], "local"):
        rejected(api, "POST", f"/v1/versions/{version}/deploy", "mia", 422, "invalid_request", json=body)
    rejected(api, "POST", f"/v1/versions/{version}/deploy", "mia", 422, "invalid_request", content="{", headers=JSON)


def test_deploy_with_no_body_or_an_empty_one_uses_the_openapi_defaults_local_and_small(api):
    version = approved_version(api)
    for kwargs in ({}, {"json": {}}):
        deployment = ok(api.call("POST", f"/v1/versions/{version}/deploy", "mia", **kwargs), 202)["deployment_id"]
        shown = ok(api.get(f"/v1/deployments/{deployment}", "mia"))
        assert (shown["target"], shown["size"], shown["status"]) == ("local", "small", "requested")


def test_deploying_a_rejected_retired_or_terminated_version_is_409_with_one_access_denied(api):
    _, rejected_version = new_version(api, blob=b"rejected")
    computed_run(api, rejected_version)
    ok(api.call("POST", f"/v1/versions/{rejected_version}/reject", "mia", json={"findings": "no"}))
    retired = approved_version(api, blob=b"retired")
    ok(api.call("POST", f"/v1/versions/{retired}/retire", "mia", json={"reason": "old"}))
    terminated, deployment = deployed_version(api, blob=b"terminated")
    released(api, ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "x"}), 202)["job_id"])
    _, staged = new_version(api, blob=b"staged")
    for version in (rejected_version, retired, terminated, staged):
        rejected(api, "POST", f"/v1/versions/{version}/deploy", "mia", 409, "illegal_transition", recorded=1, json={})
    rejected(api, "POST", f"/v1/versions/{uuid.uuid4()}/deploy", "mia", 404, "not_found", json={})


def test_terminate_with_an_empty_blank_or_megabyte_reason_or_no_body_is_422_and_records_nothing(api):
    _, deployment = deployed_version(api)
    path = f"/v1/deployments/{deployment}/terminate"
    for body in ({"reason": ""}, {"reason": "x" * 1_000_000}, {"reason": 5}, {"reason": None}, {}, {"reason": "x", "y": 1}):
        rejected(api, "POST", path, "mia", 422, "invalid_request", json=body)
    rejected(api, "POST", path, "mia", 422, "invalid_request")
    for reason in ("   ", "\n\t"):
        rejected(api, "POST", path, "mia", 422, "invalid_input", json={"reason": reason})
    rejected(api, "POST", path, "mia", 422, "invalid_input", content='{"reason": "\\ud800"}', headers=JSON)
    rejected(api, "POST", path, "mia", 422, "invalid_request", content='{"reason": "a\\u0000b"}', headers=JSON)
    rejected(api, "POST", path, "mia", 422, "invalid_request", content=b'{"reason": "\xff\xfe"}', headers=JSON)
    rejected(api, "POST", path, "mia", 422, "invalid_request", content='{"reason": "x", "reason": "y"}', headers=JSON)
    assert ok(api.get(f"/v1/deployments/{deployment}", "mia"))["status"] == "active"


def test_a_termination_reason_is_bounded_where_the_schema_says_and_accepted_up_to_it(api):
    _, deployment = deployed_version(api)
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["TerminateIn"]["properties"]["reason"]
    assert schema["maxLength"] == 2000, "the schema states the bound the ledger keeps"
    before = api.events()
    refused(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "r" * 2001}), 422,
            "invalid_request")
    assert api.events() == before
    ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "r" * 2000}), 202)


def test_terminating_a_deployment_a_routing_config_sends_traffic_to_is_409_naming_the_config_and_recorded_once(api):
    version, deployment = deployed_version(api)
    routing = config(api, routing_body(version))["routing_config_id"]
    message = rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409, "precondition_failed",
                       recorded=1, json={"reason": "still routed"})
    assert routing in message
    revoked, _ = send(api, "DELETE", f"/v1/routing-configs/{routing}/key", "mia")
    assert revoked.status_code == 200
    rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409, "precondition_failed",
             recorded=1, json={"reason": "key revoked, config still routes"})


def test_terminating_a_deployment_that_is_already_terminating_is_409_saying_so_not_talking_of_provisioning(api):
    _, deployment = deployed_version(api)
    ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "first"}), 202)
    message = rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409, "illegal_transition",
                       recorded=1, json={"reason": "second"})
    assert "provision" not in message, message


def test_terminating_a_terminated_deployment_is_409_and_a_termination_is_never_cancelled(api):
    _, deployment = deployed_version(api)
    termination = ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "x"}), 202)["job_id"]
    rejected(api, "POST", f"/v1/jobs/{termination}/cancel", "mia", 409, "illegal_transition", recorded=1, json={})
    released(api, termination)
    assert "stays terminated" in rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409,
                                          "illegal_transition", recorded=1, json={"reason": "again"})
    rejected(api, "POST", f"/v1/deployments/{uuid.uuid4()}/terminate", "mia", 404, "not_found", json={"reason": "x"})


def test_terminating_a_deployment_four_times_concurrently_queues_exactly_one_termination(api):
    version, deployment = deployed_version(api)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia",
                                                   json={"reason": f"attempt {n}"}), range(4)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text[:120] for a in answers]
    assert all(error(a)["code"] in ("conflict", "illegal_transition") for a in answers if a.status_code == 409)
    api.project()
    assert len(ok(api.get("/v1/jobs", "mia", kind="termination", version_id=version))["items"]) == 1


def test_routing_to_a_deployment_while_it_is_being_terminated_never_records_both(api):
    for attempt in range(4):
        version, deployment = deployed_version(api, blob=f"race {attempt}".encode())
        with ThreadPoolExecutor(2) as pool:
            terminate = pool.submit(api.call, "POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "race"})
            route = pool.submit(api.call, "POST", "/v1/routing-configs", "mia", json=routing_body(version, name=f"race {attempt}"))
            terminated, routed = terminate.result(), route.result()
        assert not (terminated.status_code == 202 and routed.status_code == 201), (terminated.text, routed.text)
        assert {terminated.status_code, routed.status_code} & {201, 202}, (terminated.text, routed.text)
        assert 500 not in (terminated.status_code, routed.status_code)
        status = ok(api.get(f"/v1/deployments/{deployment}", "mia"))
        assert (status["status"] == "terminating") == (terminated.status_code == 202)
        assert bool(status["routed_by"]) == (routed.status_code == 201)


def test_the_same_idempotency_key_with_a_different_deploy_body_or_path_is_409_and_records_nothing(api):
    version = approved_version(api)
    other = approved_version(api, blob=b"other")
    key = {"Idempotency-Key": "deploy-once"}
    first, delta = send(api, "POST", f"/v1/versions/{version}/deploy", "mia", json={"target": "local"}, headers=key)
    assert first.status_code == 202 and delta > 0
    again, delta = send(api, "POST", f"/v1/versions/{version}/deploy", "mia", json={"target": "local"}, headers=key)
    assert again.status_code == 202 and delta == 0 and again.json() == first.json()
    for method, path, kwargs in (("POST", f"/v1/versions/{version}/deploy", {"json": {"target": "local", "size": "large"}}),
                                 ("POST", f"/v1/versions/{other}/deploy", {"json": {"target": "local"}}),
                                 ("POST", f"/v1/deployments/{first.json()['deployment_id']}/terminate", {"json": {"reason": "x"}})):
        rejected(api, method, path, "mia", 409, "idempotency_key_reused", headers=key, **kwargs)
    add_user(api, "max", "manager")
    theirs, delta = send(api, "POST", f"/v1/versions/{version}/deploy", "max", json={"target": "local"}, headers=key)
    assert theirs.status_code == 202 and delta > 0 and theirs.json()["deployment_id"] != first.json()["deployment_id"]


def test_a_refused_deployment_or_routing_command_repeated_with_its_idempotency_key_is_recorded_once(api):
    version, deployment = deployed_version(api)
    config(api, routing_body(version))
    key = {"Idempotency-Key": "refused-once"}
    # the first refusal records one AccessDenied and its idempotency record (docs/api.md "Idempotency"); a retry nothing
    first = rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409, "precondition_failed",
                     recorded=2, json={"reason": "x"}, headers=key)
    assert topics(api, 2) == ["IdempotentRequest.Answered", "Refusal.AccessDenied"]
    again = rejected(api, "POST", f"/v1/deployments/{deployment}/terminate", "mia", 409, "precondition_failed",
                     recorded=0, json={"reason": "x"}, headers=key)
    assert first == again
    rejected(api, "POST", "/v1/routing-configs", "dana", 403, "forbidden", recorded=2, json=routing_body(version), headers=key)
    assert topics(api, 2) == ["IdempotentRequest.Answered", "Refusal.AccessDenied"]
    rejected(api, "POST", "/v1/routing-configs", "dana", 403, "forbidden", recorded=0, json=routing_body(version), headers=key)


def test_moving_a_configs_traffic_to_a_newer_deployment_frees_the_old_one_for_termination(api):
    version, first = deployed_version(api)
    routing = config(api, routing_body(version))["routing_config_id"]
    second = deploy(api, version)
    provisioned(api, second)
    ok(api.call("POST", f"/v1/deployments/{second}/terminate", "mia", json={"reason": "not routed yet"}), 202)
    third = deploy(api, version)
    provisioned(api, third)
    ok(api.call("PUT", f"/v1/routing-configs/{routing}", "mia", json=routing_body(version)))
    ok(api.call("POST", f"/v1/deployments/{first}/terminate", "mia", json={"reason": "traffic moved"}), 202)
    rejected(api, "POST", f"/v1/deployments/{third}/terminate", "mia", 409, "precondition_failed", recorded=1,
             json={"reason": "routed"})


def test_a_config_routes_to_the_latest_active_local_deployment_and_frees_an_aws_one_for_termination(api):
    version, local = deployed_version(api)
    remote = deploy(api, version, target="aws-ec2")
    provisioned(api, remote)
    created = config(api, routing_body(version))
    assert ok(api.get(f"/v1/routing-configs/{created['routing_config_id']}", "mia"))["rule_set"]["deployments"] == {version: local}
    ok(api.call("POST", f"/v1/deployments/{remote}/terminate", "mia", json={"reason": "not routed"}), 202)
    rejected(api, "POST", f"/v1/deployments/{local}/terminate", "mia", 409, "precondition_failed", recorded=1,
             json={"reason": "routed"})


def test_terminating_one_active_deployment_while_another_of_the_version_is_queued_does_not_terminate_the_version(api):
    """Blue/green: deploy to AWS, then terminate the local deployment while the AWS one is still queued. The local one
    was not the version's last deployment, so the version must stay deployable and the AWS deployment must come up."""
    version, local = deployed_version(api)
    remote = deploy(api, version, target="aws-ec2")
    released(api, ok(api.call("POST", f"/v1/deployments/{local}/terminate", "mia", json={"reason": "moved to AWS"}),
                     202)["job_id"])
    api.project()
    assert ok(api.get(f"/v1/versions/{version}", "mia"))["status"] != "terminated"
    provisioned(api, remote)
    assert ok(api.get(f"/v1/deployments/{remote}", "mia"))["status"] == "active"
