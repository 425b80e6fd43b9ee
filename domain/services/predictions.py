"""Predictions: what is recorded for each answer of the prediction endpoint, and who reads it.

The endpoint (api.predict) routes, validates and scores; this service turns each answer into the event that records
it — the input sealed under its data subject's key when one is named — and finds an earlier answer to the same
request. Reading a prediction is a read of its model (data scientists: their own models); its input reads as
"[erased]" once its subject has been erased.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ..errors import Conflict, NotFound
from ..models import Model
from ..predictions import ERASED, Prediction, Routed, prediction_id_for, request_digest
from ..roles import Action, Actor, check_can_read
from .guard import Service, query
from .people import Vault


class RequestIdReused(Conflict):
    """A request id answered before, sent again with another body."""

    code = "request_id_reused"


class Predictions(Service):
    """The records of the prediction endpoint's answers."""

    vault: Vault | None

    def request_hash(self, features: dict[str, Any], subject_id: str | None) -> str:
        """The request's hash as recorded: keyed by the subject's key when it names one (a plain hash of personal data
        would let anyone holding the ledger confirm a guessed input after the erasure)."""
        text = json.dumps({"features": features, "subject_id": subject_id}, sort_keys=True, separators=(",", ":"))
        if subject_id is not None and self.vault is not None:
            return "mac:" + self.vault.digest(subject_id, text)
        return request_digest(features, subject_id)

    def earlier_prediction(self, routing_config_id: UUID, request_id: str, request_hash: str) -> Prediction | None:
        """The answer already recorded for this request id, if any; a different body under the same id is refused."""
        try:
            found = self.repository.get(prediction_id_for(routing_config_id, request_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(found, Prediction):
            return None
        if found.request_hash != request_hash:
            raise RequestIdReused(f"request id {request_id!r} was answered before for another request; send a new "
                                  "request id, or the same request to get the same answer")
        return found

    def shadows_of(self, primary: Prediction, version_ids: list[str]) -> list[Prediction]:
        found = []
        for version_id in version_ids:
            try:
                found.append(self.repository.get(prediction_id_for(primary.routing_config_id, primary.request_id,
                                                                   version_id)))
            except AggregateNotFoundError:
                continue
        return found

    def prediction_record(self, *, routed: Routed, request_id: str, version_id: UUID, model_id: UUID,
                          deployment_id: UUID, shadow: bool, subject_id: str | None, features: dict[str, Any],
                          prediction: Any, score: float | None, explanation: dict[str, Any], request_hash: str,
                          latency_ms: float) -> Prediction:
        """The event of one answer (not saved: the endpoint commits many answers together)."""
        sealed = None
        if subject_id is not None:
            if self.vault is None:
                raise NotFound("this service keeps no subject keys, so it cannot record a subject's input")
            sealed = self.vault.encrypt(subject_id, json.dumps(features, sort_keys=True, separators=(",", ":")))
        return Prediction(request_id, routed.routing_config_id, routed.revision, routed.key_id, routed.rule,
                          routed.branch, routed.bucket, version_id, model_id, deployment_id, shadow, subject_id,
                          None if sealed else features, sealed, prediction, score, explanation, request_hash,
                          round(latency_ms, 3))

    @query(Action.READ, "prediction", "prediction_id")
    def read_prediction(self, actor: Actor, prediction_id: UUID) -> tuple[Prediction, dict[str, Any] | str]:
        """A prediction and its input (ERASED once its subject is erased), for a reader of its model."""
        try:
            found = self.repository.get(prediction_id)
        except AggregateNotFoundError:
            raise NotFound(f"no prediction {prediction_id}") from None
        if not isinstance(found, Prediction):
            raise NotFound(f"no prediction {prediction_id}")
        check_can_read(actor, self._get(found.model_id, Model, "model").owner)
        return found, self.input_of(found)

    def input_of(self, found: Prediction) -> dict[str, Any] | str:
        if found.sealed_features is None:
            return found.features or {}
        if self.vault is None:
            return ERASED
        text = self.vault.decrypt(found.sealed_features)
        return ERASED if text == ERASED else json.loads(text)  # erased: unreadable for ever, by design
