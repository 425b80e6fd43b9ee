"""The prediction endpoint: one endpoint for many models, every answer recorded before it is given, with a receipt.

`POST /v1/predict` takes a routing key as `Authorization: Bearer grk_…`. For each request it finds an earlier answer
to the same request id (the same answer and receipt again, nothing recorded twice), routes it, checks its input
against the routed version's schema (422 naming every field at fault, nothing recorded), scores it with the
deployment's model (and each shadow version's), explains it, and records the answers through the group committer:
many callers' predictions in one transaction, each answered only once that transaction has committed (a failed
commit is 503 for every request of its group, and nothing of it is recorded). The receipt is signed with this
service's receipt key over the ledger position, the event's leaf hash, its time and the request id.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from domain.errors import InvalidInput, Unauthenticated
from domain.predictions import Prediction, Routed, check_features, check_request_id, check_subject_id
from domain.routing import RoutingConfig
from domain.routing_rules import route
from ledger_tools.receipt import make_receipt, receipt_json

from .bodies import StrictJsonRoute
from .deps import ServicesDep
from .errors import RESPONSES
from .receipts import receipt_signer

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["predictions"], responses=RESPONSES)
MAX_ROWS = 100


class RequestIn(BaseModel):
    request_id: Annotated[str | None, Field(max_length=200, description="yours, for idempotency: the same id and "
                                            "body answer the same answer and receipt; default: a new one")] = None
    subject_id: Annotated[str | None, Field(max_length=200, description="the data subject the input is about: it is "
                                            "recorded encrypted under that subject's key")] = None
    features: dict[str, Any] = Field(description="the input: each input field of the routed version")


class PredictIn(BaseModel):
    request_id: Annotated[str | None, Field(max_length=200)] = None
    subject_id: Annotated[str | None, Field(max_length=200)] = None
    features: dict[str, Any] | None = Field(None, description="one request; or `rows` for several")
    rows: list[RequestIn] | None = Field(None, max_length=MAX_ROWS, description=f"up to {MAX_ROWS} requests at once")


class PredictionOut(BaseModel):
    request_id: str
    prediction: Any
    score: float | None
    version_id: str
    rule: str | None = Field(description="the rule that matched; null: the default version answered")
    branch: int | None = Field(description="the split's branch that answered, if the rule splits")
    explanation: dict[str, Any] = Field(description="base_value and the largest contributions by feature")
    receipt: dict[str, Any] = Field(description="the signed receipt: position, leaf_hash, recorded_at, request_id, note")
    replayed: bool = False


def _token(request: Request) -> str:
    values = [v for k, v in request.headers.items() if k.lower() == "authorization"]
    if len(values) != 1 or not values[0].lower().startswith("bearer "):
        raise Unauthenticated("send a routing key as `Authorization: Bearer grk_…`")
    return values[0][7:].strip()


@router.post("/predict", response_model=PredictionOut | dict[str, list[PredictionOut]])
def predict(services: ServicesDep, request: Request, body: PredictIn) -> dict[str, Any]:
    """Route, validate, predict, explain and record each request, then answer with the prediction, the version, the
    rule that matched, the explanation and a signed receipt. `rows` answers `{"predictions": [...]}`."""
    started = time.perf_counter()
    receipt_signer(services)  # before anything is scored or recorded: an answer without a receipt is never given
    serving = services.serving()
    config = serving.config_for(_token(request))
    if (body.rows is None) == (body.features is None):
        raise InvalidInput("send `features` for one request, or `rows` for several, not both")
    requests = body.rows if body.rows is not None else [RequestIn(request_id=body.request_id,
                                                                  subject_id=body.subject_id, features=body.features)]
    ids = [check_request_id(r.request_id) if r.request_id is not None else uuid.uuid4().hex for r in requests]
    if len(set(ids)) != len(ids):
        raise InvalidInput("two rows of one batch carry the same request_id")
    answers = [_answer(services, config, rid, r, started) for rid, r in zip(ids, requests)]
    return answers[0] if body.rows is None else {"predictions": answers}


def _answer(services: Any, config: RoutingConfig, request_id: str, req: RequestIn, started: float) -> dict[str, Any]:
    gov, serving = services.governance, services.serving()
    subject = check_subject_id(req.subject_id)
    request_hash = gov.request_hash(req.features, subject)
    earlier = gov.earlier_prediction(config.id, request_id, request_hash)
    if earlier is not None:
        return {**_public(services, earlier, services.position_of(earlier.id)), "replayed": True}
    decision = route(config.rule_set, req.features, request_id, str(config.id))
    routed = Routed(config.id, config.revision, config.key_id or "", decision.rule, decision.branch, decision.bucket)
    records = []
    for version_id, shadow in [(decision.version_id, False), *[(v, True) for v in decision.shadow_version_ids]]:
        deployment_id = UUID(config.deployments[version_id])
        serving.check_serving(deployment_id)
        served = serving.served(deployment_id)
        features = check_features(req.features, served.version.input_schema)
        with serving.admitted(served):
            (answer,) = served.model.answer([features])
        records.append(gov.prediction_record(
            routed=routed, request_id=request_id, version_id=served.version.id, model_id=served.version.model_id,
            deployment_id=deployment_id, shadow=shadow, subject_id=subject, features=features,
            prediction=answer.prediction, score=answer.score, explanation=answer.explanation,
            request_hash=request_hash, latency_ms=(time.perf_counter() - started) * 1000))
    committed = services.committer().submit(records)
    return _public(services, records[0], committed[0].position, committed[0].leaf_hash, committed[0].timestamp)


def _public(services: Any, found: Prediction, position: int, leaf: bytes | None = None, at: Any = None) -> dict[str, Any]:
    if leaf is None:
        leaf, at = services.leaf_of(position), found.created_on
    signer = receipt_signer(services)
    note = make_receipt(origin=services.verifier.name, position=position, leaf_hash=leaf, recorded_at=at,
                        request_id=found.request_id, signer=signer)
    return {"request_id": found.request_id, "prediction": found.prediction, "score": found.score,
            "version_id": str(found.version_id), "rule": found.rule, "branch": found.branch,
            "explanation": found.explanation, "receipt": json.loads(receipt_json(note, signer.verifier))}
