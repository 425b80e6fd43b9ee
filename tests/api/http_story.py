"""Governance through HTTP only: helpers that walk a model version along its lifecycle with each role's key."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

SECTIONS = ("model_info", "domain_context", "fairness_bias", "risk_classification")
CLEAN_RUN = {"run_id": "run-1", "rows": 500, "metrics": {"auc": 0.81}, "report_hashes": {"drift": "ab" * 32},
             "drift_share": 0.0, "drift_detected": False, "fairness_breach": False}


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
