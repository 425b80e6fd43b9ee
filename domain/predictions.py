"""Predictions: every answer the prediction endpoint gives, recorded before it is given.

A prediction is an aggregate of one event, `Prediction.Recorded`, whose id is derived from the routing config and the
caller's request id: a repeated request finds the first record (the same answer and receipt, nothing recorded twice),
and two racing copies of one request cannot both be recorded (the store's uniqueness of an aggregate's first event).
A shadow version's prediction is recorded the same way, marked shadow, under an id derived from the primary's.

What is recorded: the input (encrypted under the data subject's key when the caller names a subject, so erasing the
subject makes it unreadable and every hash still verifies), the output and score, the version and the deployment that
served it, the routing decision (config revision, the rule that matched or none for the default, the split branch and
bucket), the explanation (base value and the largest contributions), the request id, the routing key's id, a keyed
hash of the request for telling a replay from a reused id, and the latency.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import InvalidInput
from .inputs import INT64_MAX, INT64_MIN

NAMESPACE = UUID("6a1d3f0e-8b52-4f7c-9e21-5d0c7b4a93e8")
REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
SUBJECT_ID = re.compile(r"^[\x21-\x39\x3b-\x7e]{1,200}$")  # printable ASCII but ':' (the vault's separator)
#: The largest contributions an explanation keeps (the rest are summed into "other features").
TOP_CONTRIBUTIONS = 10
MAX_FEATURES = 1_000
MAX_TEXT_VALUE = 1_000
#: What a prediction reads as once its data subject has been erased.
ERASED = "[erased]"


def prediction_id_for(routing_config_id: UUID, request_id: str, shadow_version_id: str | None = None) -> UUID:
    name = f"{routing_config_id}:{request_id}" + (f":shadow:{shadow_version_id}" if shadow_version_id else "")
    return uuid5(NAMESPACE, name)


def check_request_id(value: Any) -> str:
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        raise InvalidInput("request_id is 1 to 200 printable ASCII characters without spaces")
    return value


def check_subject_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not SUBJECT_ID.match(value):
        raise InvalidInput("subject_id is 1 to 200 printable ASCII characters without spaces or ':'")
    return value


def check_features(features: Any, schema: dict[str, str]) -> dict[str, Any]:
    """The features a version takes, each of its type, or InvalidInput naming every field at fault."""
    if not isinstance(features, dict):
        raise InvalidInput("features is a JSON object of input field → value")
    problems = [f"{str(name)[:64]!r} is not an input of the routed version" for name in features if name not in schema]
    for name, kind in schema.items():
        problem = _field_problem(features.get(name), kind) if name in features else "is missing"
        if problem:
            problems.append(f"{name!r} {problem}")
    if problems:
        raise FeaturesInvalid(problems)
    return {name: features[name] for name in schema}


def _field_problem(value: Any, kind: str) -> str | None:
    if value is None:
        return None  # a missing value: the version's imputation decides
    if kind in ("integer", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {type(value).__name__}"
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            return "is outside the 64-bit integer range"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"must be true or false, got {type(value).__name__}"
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if len(value) > MAX_TEXT_VALUE or "\x00" in value:
        return f"must be text of at most {MAX_TEXT_VALUE} characters without NUL"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


class FeaturesInvalid(InvalidInput):
    """The input does not fit the routed version's schema: every field at fault is named."""

    code = "invalid_features"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the features do not fit the routed version: " + "; ".join(problems[:50]))
        self.problems = problems


def request_digest(features: dict[str, Any], subject_id: str | None) -> str:
    """The canonical bytes of a request, hashed: a reused request id with another body is told apart by it."""
    text = json.dumps({"features": features, "subject_id": subject_id}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Routed:
    """Where the routing sent a request, as a prediction records it."""

    routing_config_id: UUID
    revision: int
    key_id: str
    rule: str | None
    branch: int | None
    bucket: float | None


class Prediction(Aggregate):
    """One answer (or one shadow version's score) to one prediction request."""

    @event("Recorded")
    def __init__(self, request_id: str, routing_config_id: UUID, revision: int, key_id: str, rule: str | None,
                 branch: int | None, bucket: float | None, version_id: UUID, model_id: UUID, deployment_id: UUID,
                 shadow: bool, subject_id: str | None, features: dict[str, Any] | None, sealed_features: str | None,
                 prediction: Any, score: float | None, explanation: dict[str, Any], request_hash: str,
                 latency_ms: float) -> None:
        self.request_id = request_id
        self.routing_config_id = routing_config_id
        self.revision = revision
        self.key_id = key_id
        self.rule = rule
        self.branch = branch
        self.bucket = bucket
        self.version_id = version_id
        self.model_id = model_id
        self.deployment_id = deployment_id
        self.shadow = shadow
        self.subject_id = subject_id
        self.features = features
        self.sealed_features = sealed_features
        self.prediction = prediction
        self.score = score
        self.explanation = explanation
        self.request_hash = request_hash
        self.latency_ms = latency_ms

    @staticmethod
    def create_id(request_id: str, routing_config_id: UUID, revision: int, key_id: str, rule: str | None,
                  branch: int | None, bucket: float | None, version_id: UUID, model_id: UUID, deployment_id: UUID,
                  shadow: bool, **_: Any) -> UUID:
        return prediction_id_for(routing_config_id, request_id, str(version_id) if shadow else None)
