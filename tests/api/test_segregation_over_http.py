"""Every segregation-of-duties rule of DESIGN.md §2, attacked over HTTP: each refused with a clear error, each
refusal recorded in the audit trail, and the version left where it was."""

from __future__ import annotations

from tests.api.http_story import computed_run, document, new_version, ok, provisioned, refused, released, scoring_dataset


def attempts(api) -> list[dict]:
    api.project()
    return ok(api.get("/v1/audit-trail", "aud", outcome="refused", limit=500))["items"]


def status(api, version: str) -> str:
    api.project()
    return ok(api.call("GET", f"/v1/versions/{version}", "aud"))["status"]


def test_nobody_approves_a_version_they_trained_or_exported(api):
    model_id, version = new_version(api, trainer="dana")
    run = computed_run(api, version)
    document(api, model_id)
    ok(api.call("PUT", "/v1/users/dana/role", "root", json={"role": "manager"}))  # the trainer becomes a manager
    before = len(attempts(api))
    for step, body in (("approve", {"batch_run_id": run}), ("reject", {})):
        refused(api.call("POST", f"/v1/versions/{version}/{step}", "dana", json={"findings": "looks fine to me", **body}),
                403, "segregation_of_duties")
    after = attempts(api)
    assert len(after) == before + 2 and after[-1]["actor"] == "dana" and "trained" in after[-1]["summary"]
    assert status(api, version) == "validated"


def test_no_approval_before_a_completed_batch_run(api):
    model_id, version = new_version(api)
    document(api, model_id)
    refused(api.call("POST", f"/v1/versions/{version}/approve", "mia",
                     json={"findings": "ok", "batch_run_id": "00000000-0000-4000-8000-000000000000"}), 409, "precondition_failed")
    assert "batch inference" in attempts(api)[-1]["summary"] and status(api, version) == "staged"


def test_no_approval_while_a_mandatory_section_is_incomplete(api):
    model_id, version = new_version(api)
    run = computed_run(api, version)
    ok(api.call("PUT", f"/v1/models/{model_id}/compliance/config", "cora", json={"risk_tier": "high"}))
    document(api, model_id)  # four of the six written sections: high risk makes consent and provenance mandatory too
    refused(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok", "batch_run_id": run}), 409,
            "precondition_failed")
    assert "consent" in attempts(api)[-1]["summary"] and status(api, version) == "validated"


def test_drift_or_a_fairness_breach_needs_a_written_justification_kept_in_the_approval(api):
    model_id, version = new_version(api)
    run = computed_run(api, version, drift=True, fairness_breach=True)
    document(api, model_id)
    for justification in (None, "fine"):
        refused(api.call("POST", f"/v1/versions/{version}/approve", "mia",
                         json={"findings": "ok", "justification": justification, "batch_run_id": run}), 409, "precondition_failed")
    why = "drift is seasonal; the challenger is monitored weekly"
    ok(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok", "justification": why,
                                                                         "batch_run_id": run}))
    approval = [e for e in api.app.recorder.select_notifications(start=1, limit=10**5) if e.topic.endswith("ModelVersion.Approved")][-1]
    assert api.app.mapper.to_domain_event(approval).justification == why


def test_only_approved_versions_are_deployed_and_a_terminated_deployment_stays_terminated(api):
    model_id, version = new_version(api)
    refused(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={}), 409, "illegal_transition")
    run = computed_run(api, version)
    refused(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={}), 409, "illegal_transition")
    document(api, model_id)
    ok(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "ok", "batch_run_id": run}))
    deployment = ok(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={}), 202)["deployment_id"]
    provisioned(api, deployment)
    released(api, ok(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "incident 7"}), 202)["job_id"])
    refused(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={}), 409, "illegal_transition")
    refused(api.call("POST", f"/v1/deployments/{deployment}/terminate", "mia", json={"reason": "again"}), 409, "illegal_transition")
    assert status(api, version) == "terminated"
    assert [a["action"] for a in attempts(api)[-4:]] == ["deploy"] * 4


def test_a_data_scientist_cannot_document_someone_elses_model(api):
    model_id, _ = new_version(api, trainer="dana")
    ok(api.call("POST", "/v1/users", "root", json={"username": "eve", "role": "data_scientist"}), 201)
    api.keys["eve"] = ok(api.call("POST", "/v1/users/eve/keys", "root", json={"label": "t"}), 201)["api_key"]
    refused(api.call("PUT", f"/v1/models/{model_id}/compliance/sections/consent", "eve", json={"content": "x"}), 403, "forbidden")
    assert attempts(api)[-1]["actor"] == "eve"


def _intruder(api) -> str:
    ok(api.call("POST", "/v1/users", "root", json={"username": "eve", "role": "data_scientist"}), 201)
    api.keys["eve"] = ok(api.call("POST", "/v1/users/eve/keys", "root", json={"label": "t"}), 201)["api_key"]
    return "eve"


def _last_event_type(api) -> str:
    return api.app.recorder.select_notifications(start=api.events(), limit=1)[0].topic.rsplit(".", 1)[-1]


def test_a_data_scientist_cannot_write_to_another_data_scientists_model_and_only_the_refusal_is_recorded(api):
    model_id, staged = new_version(api, trainer="dana")
    api.project()
    dataset = api.get("/v1/datasets", "aud", limit=500).json()["items"][-1]["dataset_id"]
    version_body = {"artifact_base64": "eA==", "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                    "estimator": "e", "metrics": {"auc": 0.5}, "input_schema": {"a": "float"}, "target": "y",
                    "dataset_ids": [dataset]}
    trained = ok(api.call("POST", f"/v1/models/{model_id}/versions", "dana", json=version_body), 201)["version"]["version_id"]
    eve = _intruder(api)
    tries = [
        ("POST", f"/v1/models/{model_id}/versions", version_body),
        ("POST", f"/v1/versions/{trained}/export", None),
        ("POST", f"/v1/versions/{staged}/batch-runs", {"dataset_id": scoring_dataset(api)}),
        ("PUT", f"/v1/models/{model_id}/compliance/sections/consent", {"content": "not mine"}),
        ("GET", f"/v1/models/{model_id}", None),
        ("GET", f"/v1/versions/{staged}", None),
        ("GET", f"/v1/models/{model_id}/compliance", None),
    ]
    for method, path, body in tries:
        before = api.events()
        refused(api.call(method, path, eve, **({"json": body} if body is not None else {})), 403, "forbidden")
        assert api.events() == before + 1, f"{method} {path} recorded more than its refusal"
        assert _last_event_type(api) == "AccessDenied", f"{method} {path}"
    api.project()
    detail = ok(api.get(f"/v1/models/{model_id}", "aud"))
    assert detail["versions"] == 2 and [v["status"] for v in detail["version_list"]] == ["staged", "trained"]
    refusals = [a for a in attempts(api) if a["actor"] == eve]
    assert len(refusals) == len(tries) and all(a["model_id"] == model_id for a in refusals)
