"""Governance through HTTP only: helpers that walk a model version along its lifecycle with each role's key."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from uuid import UUID

from domain.batch import REPORTS

SECTIONS = ("model_info", "domain_context", "fairness_bias", "risk_classification")


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def new_version(api: Any, trainer: str = "dana", *, blob: bytes = b"artifact") -> tuple[str, str]:
    """(model id, version id) of a freshly imported and exported version, trained by `trainer`."""
    dataset = ok(api.call("POST", "/v1/datasets", trainer, json={
        "name": "loans", "source": "s3://bank/loans.csv", "schema": {"income": "float"}, "row_count": 10,
        "content_hash": hashlib.sha256(blob + b"data").hexdigest()}), 201)["dataset"]["dataset_id"]
    model = ok(api.call("POST", "/v1/models", trainer, json={"name": "pd-model", "description": "probability of default"}), 201)
    model_id = model["model"]["model_id"]
    version = ok(api.call("POST", f"/v1/models/{model_id}/versions", trainer, json={
        "artifact_base64": base64.b64encode(blob).decode(), "sha256": hashlib.sha256(blob).hexdigest(),
        "estimator": "HistGradientBoostingClassifier", "metrics": {"auc": 0.8}, "input_schema": {"income": "float"},
        "target": "default", "dataset_ids": [dataset]}), 201)["version"]["version_id"]
    ok(api.call("POST", f"/v1/versions/{version}/export", trainer))
    return model_id, version


def document(api: Any, model_id: str, who: str = "cora") -> None:
    for section in SECTIONS:
        ok(api.call("PUT", f"/v1/models/{model_id}/compliance/sections/{section}", who, json={"content": "written"}))


def scoring_dataset(api: Any) -> str:
    """A kept snapshot with new_version's input feature and a label, registered by dana."""
    dana = api.app.authenticate(api.keys["dana"])
    profile = {"income": {"type": "float", "missing_share": 0.0, "distinct": 10},
               "default": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}
    return str(api.app.register_dataset(dana, name="scoring", source="upload:scoring.csv",
                                        schema={c: p["type"] for c, p in profile.items()}, row_count=10,
                                        content_hash="ef" * 32, source_kind="upload", profile=profile, snapshot=True).id)


def computed_run(api: Any, version: str, *, drift: bool = False, fairness_breach: bool = False, who: str = "mia") -> str:
    """A batch run requested over HTTP and completed as a batch worker records it (the computation is tested in
    tests/ml and tests/workers); its id."""
    run = ok(api.call("POST", f"/v1/versions/{version}/batch-runs", who,
                      json={"dataset_id": scoring_dataset(api), "label_column": "default"}), 202)["job_id"]
    api.app.start_batch_run(UUID(run), worker="w1", attempt=1, lease_seconds=30)
    api.app.complete_batch_run(UUID(run), worker="w1", attempt=1, report_hashes={n: "ab" * 32 for n in REPORTS}, rows=500,
                               summary={"drift": {"share_drifted": 0.6 if drift else 0.0}}, metrics={"auc": 0.81},
                               drift_share=0.6 if drift else 0.0, drift_detected=drift, fairness_breach=fairness_breach)
    return run


def approved_version(api: Any, *, blob: bytes = b"served artifact") -> str:
    """A version imported, validated by a computed run, documented and approved over HTTP; its id."""
    model_id, version = new_version(api, blob=blob)
    run = computed_run(api, version)
    document(api, model_id)
    ok(api.call("POST", f"/v1/versions/{version}/approve", "mia", json={"findings": "meets the bar", "batch_run_id": run}))
    return version


def provisioned(api: Any, deployment: str) -> None:
    """A requested deployment provisioned as a local deploy worker records it (provisioning is tested in tests/workers)."""
    api.app.start_deployment(UUID(deployment), worker="w1", attempt=1, lease_seconds=30)
    api.app.complete_deployment(UUID(deployment), worker="w1", attempt=1, endpoint="/v1/predict",
                                resources=[{"type": "local-serving", "id": deployment}])


def released(api: Any, termination: str) -> None:
    """A termination's release recorded as a deploy worker records it."""
    api.app.start_termination(UUID(termination), worker="w1", attempt=1, lease_seconds=30)
    api.app.complete_termination(UUID(termination), worker="w1", attempt=1, released=[])


def deployed_version(api: Any, *, blob: bytes = b"served artifact", target: str = "local",
                     size: str = "small") -> tuple[str, str]:
    """(version id, deployment id) of an approved version deployed over HTTP and provisioned."""
    version = approved_version(api, blob=blob)
    deployment = ok(api.call("POST", f"/v1/versions/{version}/deploy", "mia", json={"target": target, "size": size}),
                    202)["deployment_id"]
    provisioned(api, deployment)
    return version, deployment


def routing_body(default: str, **more: Any) -> dict[str, Any]:
    """A routing config sending everything to `default`, with any more fields given."""
    return {"name": "retail loans", "rules": [], "default_version_id": default, **more}
