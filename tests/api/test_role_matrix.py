"""The role × endpoint matrix of DESIGN.md §2 over HTTP: every /v1 route, every role. A role without the permission
gets 403 and its attempt is recorded; a role with it is never refused for its role. A route missing from this
table fails the test, so a new endpoint cannot ship without its row."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.roles import PERMISSIONS, Action, Role
from tests.api.http_story import computed_run, deployed_version, new_version, routing_body, scoring_dataset

USERS = {Role.SUPERADMIN: "root", Role.MANAGER: "mia", Role.COMPLIANCE_MANAGER: "cora", Role.DATA_SCIENTIST: "dana",
         Role.AUDITOR: "aud"}

#: (method, route) → (the action it needs, a request: path parameters filled from the fixture, and a JSON body)
MATRIX: dict[tuple[str, str], tuple[Action, dict]] = {
    ("GET", "/v1/models"): (Action.READ, {}),
    ("GET", "/v1/models/{model_id}"): (Action.READ, {}),
    ("GET", "/v1/versions"): (Action.READ, {}),
    ("GET", "/v1/versions/{version_id}"): (Action.READ, {}),
    ("GET", "/v1/deployments"): (Action.READ, {}),
    ("GET", "/v1/datasets"): (Action.READ, {}),
    ("GET", "/v1/compliance"): (Action.READ, {}),
    ("GET", "/v1/models/{model_id}/compliance"): (Action.READ, {}),
    ("GET", "/v1/audit-trail"): (Action.READ, {}),
    ("GET", "/v1/jobs"): (Action.READ, {}),
    ("GET", "/v1/exports"): (Action.TIME_TRAVEL, {"params": {"from_position": 0, "to_position": 3}}),
    ("GET", "/v1/users"): (Action.MANAGE_USERS, {}),
    ("POST", "/v1/users"): (Action.MANAGE_USERS, {"json": {"username": "nemo", "role": "auditor"}}),
    ("PUT", "/v1/users/{username}/role"): (Action.MANAGE_USERS, {"json": {"role": "auditor"}}),
    ("GET", "/v1/users/{username}/keys"): (Action.MANAGE_USERS, {}),
    ("POST", "/v1/users/{username}/keys"): (Action.MANAGE_USERS, {"json": {"label": "x"}}),
    ("DELETE", "/v1/keys/{key_id}"): (Action.MANAGE_USERS, {}),
    ("POST", "/v1/subjects/{subject}/erasure"): (Action.MANAGE_USERS, {"json": {"reason": "request 42"}}),
    ("POST", "/v1/datasets"): (Action.TRAIN, {"json": {"name": "d", "source": "s", "schema": {"a": "float"}, "row_count": 1,
                                                       "content_hash": "ef" * 32}}),
    ("POST", "/v1/models"): (Action.TRAIN, {"json": {"name": "m"}}),
    ("POST", "/v1/models/{model_id}/versions"): (Action.TRAIN, {"json": "version"}),
    ("POST", "/v1/versions/{version_id}/export"): (Action.TRAIN, {}),
    ("POST", "/v1/versions/{version_id}/batch-runs"): (Action.RUN_BATCH_INFERENCE, {"json": "batch run"}),
    ("POST", "/v1/versions/{version_id}/approve"): (Action.APPROVE, {"json": "approval"}),
    ("GET", "/v1/batch-runs/{batch_run_id}"): (Action.READ, {}),
    ("GET", "/v1/batch-runs/{batch_run_id}/reports/{name}"): (Action.READ, {}),
    ("POST", "/v1/versions/{version_id}/reject"): (Action.APPROVE, {"json": {"findings": "not fine"}}),
    ("POST", "/v1/versions/{version_id}/deploy"): (Action.DEPLOY, {"json": {"target": "local"}}),
    ("GET", "/v1/deployments/{deployment_id}"): (Action.READ, {}),
    ("POST", "/v1/deployments/{deployment_id}/terminate"): (Action.DEPLOY, {"json": {"reason": "stop"}}),
    ("POST", "/v1/routing-configs"): (Action.DEPLOY, {"json": "routing"}),
    ("GET", "/v1/routing-configs"): (Action.READ_ROUTING, {}),
    ("GET", "/v1/routing-traffic"): (Action.READ_ROUTING, {"params": {"from": "2026-06-01", "to": "2026-06-30"}}),
    ("GET", "/v1/routing-configs/{routing_config_id}"): (Action.READ_ROUTING, {}),
    ("PUT", "/v1/routing-configs/{routing_config_id}"): (Action.DEPLOY, {"json": "routing"}),
    ("GET", "/v1/routing-configs/{routing_config_id}/history"): (Action.READ_ROUTING, {}),
    ("POST", "/v1/routing-configs/{routing_config_id}/rollback"): (Action.DEPLOY, {"json": {"revision": 1}}),
    ("POST", "/v1/routing-configs/{routing_config_id}/key"): (Action.DEPLOY, {}),
    ("DELETE", "/v1/routing-configs/{routing_config_id}/key"): (Action.DEPLOY, {}),
    ("POST", "/v1/versions/{version_id}/retire"): (Action.DEPLOY, {"json": {"reason": "old"}}),
    ("PUT", "/v1/models/{model_id}/compliance/config"): (Action.CONFIGURE_COMPLIANCE, {"json": {"risk_tier": "low"}}),
    ("PUT", "/v1/models/{model_id}/compliance/sections/{section}"): (Action.EDIT_COMPLIANCE, {"json": {"content": "text"}}),
    ("POST", "/v1/models/{model_id}/monitoring"): (Action.REGISTER_MONITORING, {}),
    ("GET", "/v1/datasets/{dataset_id}"): (Action.READ, {}),
    ("POST", "/v1/datasets/uploads"): (Action.TRAIN, {"files": {"file": ("a.csv", b"a,b\n1,2\n3,4\n")}, "data": {"name": "u"}}),
    ("POST", "/v1/datasets/queries"): (Action.TRAIN, {"json": {"name": "q", "connection": "nowhere", "query": "SELECT 1"}}),
    ("POST", "/v1/datasets/objects"): (Action.TRAIN, {"json": {"name": "o", "uri": "s3://bucket/key.csv"}}),
    ("GET", "/v1/connections"): (Action.LIST_CONNECTIONS, {}),
    ("POST", "/v1/connections"): (Action.MANAGE_CONNECTIONS, {"json": {"name": "c", "url": "postgresql://u:p@h/db"}}),
    ("POST", "/v1/training-jobs"): (Action.TRAIN, {"json": "training"}),
    ("GET", "/v1/jobs/{job_id}"): (Action.READ, {}),
    ("POST", "/v1/jobs/{job_id}/cancel"): (Action.TRAIN, {"json": {}}),
    ("GET", "/v1/versions/{version_id}/lineage"): (Action.READ, {}),
    ("GET", "/v1/versions/{version_id}/artifact"): (Action.READ, {}),
}
OPEN = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}  # /metrics: any authenticated caller
#: Opened by a routing key, not a role (tests/api/test_predict.py): predicting, and a receipt's key and proof.
ROUTING_KEY = {("POST", "/v1/predict"), ("GET", "/v1/receipts/key"), ("GET", "/v1/receipts/{position}/proof")}


def test_every_route_has_its_row_in_the_matrix(api):
    document = api.client.get("/openapi.json").json()
    assert {(method.upper(), path) for path, item in document["paths"].items() for method in item} == set(MATRIX) | OPEN | ROUTING_KEY


def _last_topic(api) -> str:
    return api.app.recorder.select_notifications(start=api.events(), limit=1)[0].topic


def prepare(api) -> tuple[dict[str, str], str]:
    """Path values for every route of the matrix (a fresh staged version, a spare key), and a dataset id."""
    model_id, version_id = new_version(api)
    api.project()
    spare = api.app.issue_api_key(api.app.authenticate(api.keys["root"]), "aud", "spare").key_id
    dana = api.app.authenticate(api.keys["dana"])
    profile = {"a": {"type": "float", "missing_share": 0.0, "distinct": 9}, "y": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}
    snapshot = str(api.app.register_dataset(dana, name="snap", source="upload:s.csv", schema={"a": "float", "y": "boolean"},
                                            row_count=9, content_hash="ab" * 32, source_kind="upload", profile=profile,
                                            snapshot=True).id)
    job = api.app.request_training(dana, dataset_id=UUID(snapshot), task="classification", target="y", time_budget_seconds=1).id
    run = computed_run(api, version_id)
    served, deployment = deployed_version(api)
    config = api.app.create_routing_config(api.app.authenticate(api.keys["mia"]), body=routing_body(served)).id
    api.project()
    return {"deployment_id": deployment, "routing_config_id": str(config), "served": served,"model_id": model_id, "version_id": version_id, "username": "mia", "key_id": spare,
            "subject": "00000000-0000-4000-8000-000000000000", "section": "consent", "job_id": str(job),
            "dataset_id": snapshot, "batch_run_id": run, "name": "drift", "scoring": scoring_dataset(api)}, snapshot


def request_of(route: str, request: dict, dataset: str, values: dict[str, str]) -> dict:
    """The matrix's request for a route, with its version, batch run and approval bodies filled in."""
    kwargs = dict(request)
    if kwargs.get("json") == "batch run":
        kwargs["json"] = {"dataset_id": values["scoring"]}
    if kwargs.get("json") == "approval":
        kwargs["json"] = {"findings": "fine", "batch_run_id": values["batch_run_id"]}
    if kwargs.get("json") == "version":
        kwargs["json"] = {"artifact_base64": "eA==", "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                          "estimator": "e", "metrics": {"auc": 0.5}, "input_schema": {"a": "float"}, "target": "y",
                          "dataset_ids": [dataset]}
    if kwargs.get("json") == "routing":
        kwargs["json"] = routing_body(values["served"])
    if kwargs.get("json") == "training":
        kwargs["json"] = {"dataset_id": dataset, "target": "y", "task": "classification", "time_budget_seconds": 1}
    if route == "/v1/users/{username}/role":
        kwargs["json"] = {"role": "manager"}  # mia stays a manager whoever succeeds
    return kwargs


def test_every_role_on_every_endpoint_gets_exactly_what_section_2_allows(api):
    values, dataset = prepare(api)
    failures = []
    for (method, route), (action, request) in MATRIX.items():
        path = route.format(**values)
        for role, user in USERS.items():
            kwargs = request_of(route, request, dataset, values)
            before = api.events()
            response = api.call(method, path, user, **kwargs)
            allowed = role in PERMISSIONS[action]
            if allowed and response.status_code in (401, 403):
                failures.append(f"{role} refused on {method} {route}: {response.text}")
            if not allowed:
                if response.status_code != 403 or response.json()["error"]["code"] != "forbidden":
                    failures.append(f"{role} not refused on {method} {route}: {response.status_code} {response.text[:200]}")
                elif api.events() != before + 1 or not _last_topic(api).endswith("Refusal.AccessDenied"):
                    failures.append(f"{role} refused on {method} {route} but not recorded as exactly one AccessDenied")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", list(USERS))
def test_metrics_answer_any_authenticated_caller_and_no_one_else(api, role):
    response = api.call("GET", "/metrics", USERS[role])
    assert response.status_code == 200 and "govledger_ledger_events" in response.text
    assert api.client.get("/metrics").status_code == 401
