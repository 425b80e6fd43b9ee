"""Every governance command over HTTP: each answers with the new state and its ledger position; bad input appends nothing."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.api.http_story import computed_run, document, new_version, ok, provisioned, refused, released


def test_a_version_walks_its_whole_lifecycle_over_http(api):
    model_id, version = new_version(api)
    run = computed_run(api, version)
    assert ok(api.get(f"/v1/batch-runs/{run}", "mia"))["state"] == "succeeded"
    configured = ok(api.call("PUT", f"/v1/models/{model_id}/compliance/config", "cora", json={"risk_tier": "medium"}))
    assert configured["compliance"]["risk_tier"] == "medium" and len(configured["compliance"]["breakdown"]) == 12
    assert configured["position"] == api.events() - 1
    document(api, model_id)
    approved = ok(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "meets the bar",
                                                                                  "batch_run_id": run}))
    assert approved["version"]["status"] == "approved" and approved["position"] == api.events() - 1
    deployment = ok(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={"target": "local"}), 202)["deployment_id"]
    provisioned(api, deployment)
    api.project()
    assert ok(api.get(f"/v1/versions/{version}", "mia"))["status"] == "deployed"
    ok(api.call("POST", f"/v1/models/{model_id}/monitoring", "mia"))
    termination = ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "superseded"}), 202)
    released(api, termination["job_id"])
    api.project()
    assert ok(api.get(f"/v1/versions/{version}", "mia"))["status"] == "terminated"
    assert ok(api.call("POST", f"/v1/versions/{version}/retire", "mia", json={"reason": "archived"}))["version"]["status"] == "retired"
    api.project()
    assert ok(api.get(f"/v1/versions/{version}", "aud"))["status"] == "retired"
    detail = ok(api.get(f"/v1/models/{model_id}", "aud"))
    assert detail["monitored"] and [v["version_id"] for v in detail["version_list"]] == [version]
    assert detail["version_list"][0]["dataset_ids"], "lineage"
    jobs = ok(api.get("/v1/jobs", "aud", model_id=model_id))["items"]
    assert [(j["job_id"], j["kind"]) for j in jobs] == [(run, "batch_inference"), (deployment, "deployment"),
                                                        (termination["job_id"], "termination")]
    trail = ok(api.get("/v1/audit-trail", "aud", model_id=model_id, limit=500))["items"]
    assert [e["event_type"].split(".")[1] for e in trail if e["event_type"].startswith("ModelVersion")] == [
        "Imported", "Exported", "BatchRunCompleted", "Approved", "DeploymentRequested", "Deployed", "Terminated", "Retired"]


def test_a_rejected_version_is_recorded_with_its_findings(api):
    _, version = new_version(api)
    computed_run(api, version)
    assert ok(api.call("POST", f"/v1/versions/{version}/reject", "mia", json={"findings": "AUC too low"}))["version"]["status"] == "rejected"


def test_users_roles_keys_and_erasure_over_http(api):
    created = ok(api.call("POST", "/v1/users", "root", json={"username": "nora", "role": "manager", "email": "nora@bank.example"}), 201)
    assert created["user"]["role"] == "manager" and created["position"] == api.events() - 1
    issued = ok(api.call("POST", "/v1/users/nora/keys", "root", json={"label": "laptop"}), 201)
    api.keys["nora"] = issued["api_key"]
    assert ok(api.get("/v1/models", "nora"))["items"] is not None
    assert ok(api.call("PUT", "/v1/users/nora/role", "root", json={"role": "auditor"}))["user"]["role"] == "auditor"
    keys = ok(api.call("GET", "/v1/users/nora/keys", "root"))
    assert [k["label"] for k in keys] == ["laptop"] and "api_key" not in keys[0] and not keys[0]["revoked"]
    ok(api.call("DELETE", f"/v1/keys/{issued['key_id']}", "root"))
    refused(api.get("/v1/models", "nora"), 401, "unauthenticated")
    erased = ok(api.call("POST", f"/v1/subjects/{created['user']['user_id']}/erasure", "root", json={"reason": "GDPR art. 17 request 2026-11"}))
    assert erased["key_destroyed"] is True and erased["position"] == api.events() - 1
    again = ok(api.call("POST", f"/v1/subjects/{created['user']['user_id']}/erasure", "root", json={"reason": "repeated request"}))
    assert again == {"position": None, "key_destroyed": False}
    assert api.app.user_email(api.app.authenticate(api.keys["root"]), "nora") == "[erased]"
    api.project()
    names = [u["username"] for u in ok(api.get("/v1/users", "root", limit=500))["items"]]
    assert "nora" in names


def _artifact(blob: bytes = b"x") -> dict:
    return {"artifact_base64": base64.b64encode(blob).decode(), "sha256": hashlib.sha256(blob).hexdigest(), "estimator": "e",
            "metrics": {"auc": 0.5}, "input_schema": {"a": "float"}, "target": "y"}


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("POST", "/v1/models", {}, 422, "invalid_request"),
    ("POST", "/v1/models", {"name": "m", "extra": 1}, 422, "invalid_request"),
    ("POST", "/v1/models", {"name": "   "}, 422, "invalid_input"),
    ("POST", "/v1/models", {"name": "a\x00b"}, 422, "invalid_request"),
    ("POST", "/v1/datasets", {"name": "d", "source": "s", "schema": {"a": "blob"}, "row_count": 1, "content_hash": "ab" * 32}, 422, "invalid_request"),
    ("POST", "/v1/datasets", {"name": "d", "source": "s", "schema": {"1a": "float"}, "row_count": 1, "content_hash": "ab" * 32}, 422, "invalid_input"),
    ("POST", "/v1/datasets", {"name": "d", "source": "s", "schema": {"a": "float"}, "row_count": -1, "content_hash": "ab" * 32}, 422, "invalid_request"),
    ("POST", "/v1/models/{model}/versions", {**_artifact(), "dataset_ids": ["{dataset}"], "sha256": "00" * 32}, 422, "artifact_hash_mismatch"),
    ("POST", "/v1/models/{model}/versions", {**_artifact(), "dataset_ids": ["{dataset}"], "artifact_base64": "***"}, 422, "invalid_input"),
    ("POST", "/v1/models/{model}/versions", {**_artifact(), "dataset_ids": []}, 422, "invalid_request"),
    ("POST", "/v1/models/{model}/versions", {**_artifact(), "dataset_ids": ["00000000-0000-0000-0000-000000000000"]}, 404, "not_found"),
    ("POST", "/v1/models/00000000-0000-0000-0000-000000000000/versions", {**_artifact(), "dataset_ids": ["{dataset}"]}, 404, "not_found"),
    ("POST", "/v1/users", {"username": "root", "role": "auditor"}, 409, "conflict"),
    ("POST", "/v1/users", {"username": "x", "role": "auditor"}, 422, "invalid_input"),
    ("POST", "/v1/users", {"username": "newbie", "role": "king"}, 422, "invalid_request"),
    ("PUT", "/v1/users/ghost/role", {"role": "auditor"}, 404, "not_found"),
    ("DELETE", "/v1/keys/zz", None, 422, "invalid_request"),
    ("DELETE", "/v1/keys/0000000000000000", None, 404, "not_found"),
    ("POST", "/v1/versions/{version}/batch-runs", {"dataset_id": "not-a-uuid"}, 422, "invalid_request"),
    ("POST", "/v1/versions/{version}/batch-runs", {"dataset_id": "00000000-0000-4000-8000-000000000000"}, 404, "not_found"),
    ("PUT", "/v1/models/{model}/compliance/config", {"risk_tier": "extreme"}, 422, "invalid_request"),
    ("PUT", "/v1/models/{model}/compliance/config", {"risk_tier": "high", "applicable": ["consent"], "mandatory": ["performance"]}, 422, "invalid_input"),
    ("PUT", "/v1/models/{model}/compliance/sections/performance", {"content": "x"}, 422, "invalid_request"),
    ("PUT", "/v1/models/{model}/compliance/sections/consent", {"content": ""}, 422, "invalid_request"),
    ("POST", "/v1/versions/{version}/approve", {"findings": "ok", "justification": 5}, 422, "invalid_request"),
    ("POST", "/v1/versions/{version}/approve", "not json", 422, "invalid_request"),
])
def test_bad_commands_get_clear_errors_and_append_nothing(api, method, path, body, status, code):
    model, version = new_version(api)
    api.project()
    dataset = api.get("/v1/datasets", "aud", limit=500).json()["items"][-1]["dataset_id"]
    who = {"/v1/users": "root", "/v1/keys": "root", "/v1/models/{model}/compliance": "cora"}
    user = next((u for prefix, u in who.items() if path.startswith(prefix)), "mia" if "{version}" in path else "dana")
    fill = lambda text: text.replace("{model}", model).replace("{version}", version).replace("{dataset}", dataset)  # noqa: E731
    payload = {k: ([fill(x) for x in v] if isinstance(v, list) and k == "dataset_ids" else v) for k, v in body.items()} if isinstance(body, dict) else body
    before = api.events()
    kwargs = {"json": payload} if isinstance(payload, dict) else {"content": payload} if payload else {}
    refused(api.call(method, fill(path), user, **kwargs), status, code)
    assert api.events() == before, "a bad command appended events"


def _raw(api, method: str, path: str, who: str, body: str):
    """A request whose JSON text is sent as written (json.dumps would refuse a lone surrogate)."""
    return api.client.request(method, path, content=body.encode(), headers={
        "Authorization": f"Bearer {api.keys[who]}", "content-type": "application/json"})


def test_a_row_count_beyond_int64_is_refused_and_the_read_models_keep_projecting(api):
    before = api.events()
    refused(_raw(api, "POST", "/v1/datasets", "dana", '{"name": "d", "source": "s", "schema": {"a": "float"}, '
                 '"row_count": 99999999999999999999999999999, "content_hash": "' + "ab" * 32 + '"}'), 422, "invalid_input")
    assert api.events() == before
    ok(api.call("POST", "/v1/models", "dana", json={"name": "after the attack"}), 201)
    api.project()
    assert ok(api.get("/v1/models", "aud"))["as_of_position"] == api.events() - 1


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/models", '{"name": "\\ud800"}'),
    ("POST", "/v1/models", '{"name": "m", "description": "a\\udfffb"}'),
    ("POST", "/v1/datasets", '{"name": "d", "source": "\\ud800", "schema": {"a": "float"}, "row_count": 1, "content_hash": "' + "ab" * 32 + '"}'),
    ("PUT", "/v1/models/{model}/compliance/sections/consent", '{"content": "\\ud800"}'),
    ("POST", "/v1/users/mia/keys", '{"label": "\\ud800"}'),
    ("POST", "/v1/users", '{"username": "newbie", "role": "auditor", "email": "\\ud800@bank.example"}'),
])
def test_a_lone_surrogate_in_a_text_field_is_refused_as_invalid_and_appends_nothing(api, method, path, body):
    """Free text reaches the domain, which refuses it (invalid_input); fields with a pattern are refused at the edge."""
    model, version = new_version(api)
    who = "root" if "/users" in path else "cora" if "compliance" in path else "mia" if "batch-runs" in path else "dana"
    before = api.events()
    response = _raw(api, method, path.replace("{model}", model).replace("{version}", version), who, body)
    refused(response, 422, "invalid_request" if "email" in body else "invalid_input")
    assert api.events() == before


def test_a_hundred_thousand_column_schema_is_refused_and_appends_nothing(api):
    before = api.events()
    schema = {f"c{i}": "float" for i in range(100_000)}  # 1.7 MB: the body's bound refuses it before it is parsed
    refused(api.call("POST", "/v1/datasets", "dana", json={"name": "wide", "source": "s", "schema": schema, "row_count": 1,
                                                           "content_hash": "ab" * 32}), 413, "body_too_large")
    assert api.events() == before


def test_a_schema_wider_than_the_domain_allows_within_the_body_bound_is_refused_and_appends_nothing(api):
    before = api.events()
    schema = {f"c{i}": "float" for i in range(5_000)}  # 80 kB: within the body's bound, beyond 1,000 columns
    refused(api.call("POST", "/v1/datasets", "dana", json={"name": "wide", "source": "s", "schema": schema, "row_count": 1,
                                                           "content_hash": "ab" * 32}), 422, "invalid_input")
    assert api.events() == before


@pytest.mark.parametrize(("method", "path", "who", "body"), [
    ("POST", "/v1/models", "aud", '{"name": "\\ud800"}'),
    ("POST", "/v1/models", "root", '{"name": "a\\udfff", "description": "\\ud800"}'),
    ("POST", "/v1/datasets", "mia", ('{"name": "\\ud800", "source": "s", "schema": {"a": "float"}, "row_count": 1, '
                                     '"content_hash": "' + "ab" * 32 + '"}')),
])
def test_an_unauthorised_caller_sending_a_lone_surrogate_is_refused_and_the_refusal_is_recorded_once(api, method, path, who, body):
    model, _ = new_version(api)
    before = api.events()
    refused(_raw(api, method, path.replace("{model}", model), who, body), 403, "forbidden")
    assert api.events() == before + 1
    api.project()
    trail = ok(api.get("/v1/audit-trail", "aud", outcome="refused", order="desc", limit=1))["items"]
    assert trail[0]["position"] == before and trail[0]["event_type"] == "Refusal.AccessDenied"


@pytest.mark.parametrize("subject", ["nobody-at-all", "00000000-0000-4000-8000-000000000000"])
def test_erasing_a_subject_nobody_knows_is_not_found_and_records_nothing(api, subject):
    before = api.events()
    refused(api.call("POST", f"/v1/subjects/{subject}/erasure", "root", json={"reason": "a made-up request"}), 404, "not_found")
    assert api.events() == before


def test_the_audit_trail_names_the_admin_who_created_a_user_not_the_new_user(api):
    created = ok(api.call("POST", "/v1/users", "root", json={"username": "nora", "role": "manager"}), 201)
    api.project()
    trail = ok(api.get("/v1/audit-trail", "aud", order="desc", limit=1))["items"]
    assert trail[0]["position"] == created["position"] and trail[0]["event_type"] == "User.Created"
    assert trail[0]["actor"] == "root" and "nora" in trail[0]["summary"]
