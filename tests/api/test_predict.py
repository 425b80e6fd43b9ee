"""The prediction endpoint over HTTP on SQLite and PostgreSQL: a real model deployed locally and routed to, each answer
recorded before it is given, replayed for a repeated request id, and carrying a receipt that verifies offline once
sealed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from ledger.sealer import seal_pending
from ledger.subjects import SubjectVault
from ledger_tools.errors import LedgerToolsError
from ledger_tools.note import generate_signer
from ledger_tools.receipt import parse_proof_json, parse_receipt_json, verify_receipt
from tests.workers.deploy_world import DeployWorld, deploy_world

APPLICANT = {"age": 41, "income": 61_500.0}


@dataclass
class Served:
    w: DeployWorld
    client: TestClient
    services: Services
    key: str
    config: Any
    version: Any

    def predict(self, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post("/v1/predict", json=body, headers={"Authorization": f"Bearer {key or self.key}"})

    def events(self) -> int:
        return self.w.app.recorder.max_notification_id() or 0


@pytest.fixture
def served(db_url, signer, tmp_path) -> Served:
    w = deploy_world(db_url, tmp_path)
    w.app.vault = SubjectVault(w.db)
    version = w.approved_version()
    deployment = w.app.request_deployment(w.manager, version).id
    w.workers()[0].step()
    assert w.app.deployment(deployment).serving
    created = w.app.create_routing_config(w.manager, body={
        "name": "retail", "default_version_id": str(version),
        "rules": [{"name": "young", "when": {"field": "age", "op": "lt", "value": 25}, "version_id": str(version)}]})
    services = Services(w.app, w.db, signer.verifier, artifacts=w.artifacts,
                        receipt_signer=generate_signer("test.govledger/receipts"))
    return Served(w, TestClient(create_app(services)), services, created.api_key, created.id, version)


def test_a_prediction_is_answered_with_its_version_rule_explanation_and_a_receipt_for_its_recorded_event(served):
    before = served.events()
    answer = served.predict({"request_id": "app-47392", "features": {"age": 22, "income": 18_000.0}}).json()
    assert answer["request_id"] == "app-47392" and answer["version_id"] == str(served.version)
    assert answer["rule"] == "young" and isinstance(answer["prediction"], (bool, int))
    assert 0 <= answer["score"] <= 1 and set(answer["explanation"]["contributions"]) <= {"age", "income"}
    receipt = answer["receipt"]
    assert served.events() == before + 1 and receipt["position"] == before
    stored = served.w.app.recorder.select_notifications(start=before + 1, limit=1)[0]
    assert stored.topic == "domain.predictions:Prediction.Recorded"
    event = served.w.app.mapper.to_domain_event(stored)
    assert (event.request_id, event.rule, event.shadow, event.features) == ("app-47392", "young", False,
                                                                            {"age": 22, "income": 18_000.0})


def test_the_same_request_id_answers_the_same_answer_and_receipt_and_records_nothing_more(served):
    first = served.predict({"request_id": "r-1", "features": APPLICANT}).json()
    before = served.events()
    again = served.predict({"request_id": "r-1", "features": APPLICANT}).json()
    assert served.events() == before and again["replayed"]
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}


def test_a_request_id_reused_with_another_body_is_409_and_records_nothing(served):
    served.predict({"request_id": "r-2", "features": APPLICANT})
    before = served.events()
    response = served.predict({"request_id": "r-2", "features": {**APPLICANT, "income": 1.0}})
    assert response.status_code == 409 and response.json()["error"]["code"] == "request_id_reused"
    assert served.events() == before


def test_an_input_that_does_not_fit_the_version_is_422_naming_every_field_and_records_nothing(served):
    before = served.events()
    response = served.predict({"features": {"age": "old", "zip": "90210"}})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_features"
    for named in ("'age' must be a number", "'zip' is not an input", "'income' is missing"):
        assert named in error["message"]
    assert served.events() == before


@pytest.mark.parametrize("key", ["grk_0123456789abcdef_" + "A" * 43, "nonsense", ""])
def test_an_unknown_or_malformed_routing_key_is_401_and_records_nothing(served, key):
    before = served.events()
    response = served.client.post("/v1/predict", json={"features": APPLICANT},
                                  headers={"Authorization": f"Bearer {key}"} if key else {})
    assert response.status_code == 401 and served.events() == before


def test_a_revoked_routing_key_stops_predicting(served):
    served.services.serving().ttl = 0  # no cache: the revocation is seen at once (within a second otherwise)
    assert served.predict({"features": APPLICANT}).status_code == 200
    served.w.app.revoke_routing_key(served.w.manager, served.config)
    assert served.predict({"features": APPLICANT}).status_code == 401


def test_a_routing_key_predicts_and_reads_nothing_else(served):
    for path in ("/v1/models", "/v1/predictions", "/v1/deployments", "/metrics"):
        assert served.client.get(path, headers={"Authorization": f"Bearer {served.key}"}).status_code == 401, path


def test_a_batch_answers_each_row_and_refuses_more_rows_than_allowed(served):
    rows = [{"request_id": f"b-{i}", "features": {**APPLICANT, "age": 20 + i}} for i in range(5)]
    before = served.events()
    answers = served.predict({"rows": rows}).json()["predictions"]
    assert [a["request_id"] for a in answers] == [f"b-{i}" for i in range(5)]
    assert served.events() == before + 5
    too_many = served.predict({"rows": [{"features": APPLICANT}] * 101})
    assert too_many.status_code == 422 and served.events() == before + 5


def test_a_receipt_verifies_offline_once_sealed_and_fails_for_a_position_holding_another_event(served, signer):
    first = served.predict({"request_id": "kept", "features": APPLICANT}).json()["receipt"]
    other = served.predict({"request_id": "other", "features": APPLICANT}).json()["receipt"]
    assert served.client.get(f"/v1/receipts/{first['position']}/proof",
                             headers={"Authorization": f"Bearer {served.key}"}).status_code == 404  # not sealed yet
    with served.w.db.connect() as conn:
        seal_pending(served.w.db, conn, signer)
    trusted = served.services.receipt_signer.verifier
    published = served.client.get("/v1/receipts/key", headers={"Authorization": f"Bearer {served.key}"}).text.strip()
    assert published == str(trusted)
    proof = served.client.get(f"/v1/receipts/{first['position']}/proof", headers={"Authorization": f"Bearer {served.key}"})
    assert proof.status_code == 200, proof.text
    note, proof_text = parse_receipt_json(json.dumps(first)), parse_proof_json(proof.text)
    verified = verify_receipt(note, proof_text, trusted, log_key=signer.verifier)
    assert (verified.position, verified.request_id) == (first["position"], "kept")
    wrong = served.client.get(f"/v1/receipts/{other['position']}/proof", headers={"Authorization": f"Bearer {served.key}"})
    with pytest.raises(LedgerToolsError):
        verify_receipt(note, parse_proof_json(wrong.text), trusted)


def test_a_subjects_input_is_recorded_encrypted_and_reads_as_erased_after_the_erasure(served):
    answer = served.predict({"request_id": "s-1", "subject_id": "applicant-47392", "features": APPLICANT}).json()
    stored = served.w.app.recorder.select_notifications(start=answer["receipt"]["position"] + 1, limit=1)[0]
    assert b"61500" not in stored.state, "the input is not in the ledger in the clear"
    from domain.predictions import prediction_id_for

    ident = prediction_id_for(served.config, "s-1")
    _, features = served.w.app.read_prediction(served.w.manager, ident)
    assert features == APPLICANT
    served.w.app.vault.erase("applicant-47392")
    _, features = served.w.app.read_prediction(served.w.manager, ident)
    assert features == "[erased]"


def test_an_api_node_without_a_receipt_key_answers_no_prediction_and_records_nothing(served):
    served.services.receipt_signer = None
    before = served.events()
    response = served.predict({"features": APPLICANT})
    assert response.status_code == 503 and response.json()["error"]["code"] == "receipts_not_configured"
    assert served.events() == before


def test_a_proof_for_a_position_beyond_the_ledger_is_404_and_an_absurd_position_422(served):
    headers = {"Authorization": f"Bearer {served.key}"}
    assert served.client.get("/v1/receipts/999999/proof", headers=headers).json()["error"]["code"] == "not_found"
    assert served.client.get(f"/v1/receipts/{2**64}/proof", headers=headers).status_code == 422
    assert served.client.get("/v1/receipts/-1/proof", headers=headers).status_code == 422
