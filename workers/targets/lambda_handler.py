"""A model version served by AWS Lambda: the artifact is fetched from S3 and loaded only when its bytes hash to the
SHA-256 the ledger recorded, and never with a type outside the trusted list.

Self-contained: it runs in a Lambda package without govledger, so it imports only the standard library, boto3,
skops, pandas and numpy. The package holds `trusted_types.json` beside this file (the type names govledger's
ledger.artifacts.TRUSTED_TYPES allows beyond skops' defaults) and the function's environment names the artifact:

    ARTIFACT_BUCKET, ARTIFACT_KEY   where the skops file is in S3
    ARTIFACT_SHA256                 its SHA-256, as the ledger recorded it

The S3 client honours the standard AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL variables. A failure to fetch, verify or
load the model is raised (an invocation error, counted by Lambda), and retried on the next invocation.

An event is {"features": {name: value}} or {"rows": [{name: value}, …]}, or an API Gateway / function URL event whose
"body" is that JSON. The answer, as govledger serve-model gives it over HTTP (govledger/model_server.py):
{"statusCode": 200, "body": {"predictions": […], "scores": […] | null, "artifact_sha256"}} as JSON, or
{"statusCode": 413 | 422 | 500, "body": {"error": {"code", "message"}}}.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_ROWS = 1_000
MAX_BODY = 2 * 1024 * 1024
MAX_TEXT = 10_000
TRUSTED_TYPES_FILE = Path(__file__).with_name("trusted_types.json")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


class ArtifactRefused(Exception):
    """The model cannot be served: the function is misconfigured, or the artifact is altered or holds untrusted types."""


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, _printable(message, 2_000)


def _printable(value: object, limit: int) -> str:
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "")
    return text if len(text) <= limit else text[:limit] + "…"


# -- the model: fetched, verified, then loaded, once per container -------------------------------------

def _setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ArtifactRefused(f"the environment variable {name} is not set")
    return value


def _trusted_types() -> frozenset[str]:
    try:
        names = json.loads(TRUSTED_TYPES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ArtifactRefused(f"cannot read the trusted type list {TRUSTED_TYPES_FILE.name}: {e}") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ArtifactRefused(f"{TRUSTED_TYPES_FILE.name} is not a JSON list of type names")
    return frozenset(names)


def load_verified(data: bytes, digest: str, trusted: frozenset[str]) -> Any:
    """The model in `data`, only if the bytes hash to `digest` and every type skops does not trust by default is in
    `trusted` (the policy of govledger's ledger.artifacts.load_model)."""
    import skops.io as sio

    if not _SHA256.match(digest):
        raise ArtifactRefused(f"ARTIFACT_SHA256 {digest[:80]!r} is not a SHA-256 hex digest")
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ArtifactRefused(f"the artifact's bytes hash to {actual}, not {digest} as the ledger recorded; "
                              "refusing to load it")
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as e:  # skops raises several types for a file that is not a skops archive
        raise ArtifactRefused(f"artifact {digest} is not a skops model: {type(e).__name__}") from None
    refused = untrusted - trusted
    if refused:
        raise ArtifactRefused(f"artifact {digest} holds types that are not trusted: {', '.join(sorted(refused))}")
    return sio.loads(data, trusted=sorted(untrusted))


class _Served:
    def __init__(self, model: Any, sha256: str) -> None:
        self.model, self.sha256 = model, sha256
        names = getattr(model, "feature_names_in_", None)
        count = getattr(model, "n_features_in_", None)
        if names is not None:
            self.columns, self.named = [str(n) for n in names], True
        elif isinstance(count, int) and count > 0:
            self.columns, self.named = [f"x{i}" for i in range(count)], False
        else:
            raise ArtifactRefused(f"artifact {sha256} names no input features (feature_names_in_) and does not say "
                                  "how many it takes (n_features_in_): it cannot be served")
        if not hasattr(model, "predict"):
            raise ArtifactRefused(f"artifact {sha256} holds a {type(model).__name__}, which has no predict method")
        self.known = set(self.columns)

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        checked = []
        for i, row in enumerate(rows):
            where = f"row {i}: " if len(rows) > 1 else ""
            missing = [c for c in self.columns if c not in row]
            unknown = [k for k in row if k not in self.known]
            if missing or unknown:
                problems = ([f"missing features {_names(missing)}"] if missing else []) + (
                    [f"unknown features {_names(unknown)}"] if unknown else [])
                raise _Refused(422, "invalid_features", where + "; ".join(problems))
            checked.append({c: _value(where, c, row[c]) for c in self.columns})
        return pd.DataFrame(checked, columns=self.columns)

    def answer(self, frame: pd.DataFrame) -> dict[str, Any]:
        X: Any = frame if self.named else frame.to_numpy()
        try:
            predictions = self.model.predict(X)
            scores = np.asarray(self.model.predict_proba(X))[:, -1] if hasattr(self.model, "predict_proba") else None
        except (ValueError, TypeError) as e:
            raise _Refused(422, "invalid_features", f"the model cannot score these values: {e}") from None
        return {"predictions": _plain(predictions), "scores": None if scores is None else _plain(scores),
                "artifact_sha256": self.sha256}


_served: _Served | None = None


def _model() -> _Served:
    """The model of this container, fetched and checked on the first invocation (a cold start)."""
    global _served
    if _served is None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key, digest = _setting("ARTIFACT_BUCKET"), _setting("ARTIFACT_KEY"), _setting("ARTIFACT_SHA256")
        trusted = _trusted_types()
        try:
            data = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as e:
            raise ArtifactRefused(f"cannot fetch the artifact s3://{bucket}/{key}: {e}") from None
        _served = _Served(load_verified(data, digest, trusted), digest)
    return _served


# -- the event ------------------------------------------------------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key[:64]!r} appears twice in one object")
        found[key] = value
    return found


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is too large for a float")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 100:
        raise ValueError(f"the number {text[:16]}… has {len(text)} digits")
    return int(text)


def _request(event: Any) -> Any:
    """The request an event carries: the event itself, or the JSON of an API Gateway / function URL event's body."""
    if not isinstance(event, dict) or "body" not in event:
        return event
    body = event["body"]
    if not isinstance(body, str):
        raise _Refused(422, "invalid_request", "the event's body is not a string")
    if len(body) > MAX_BODY * 4 // 3 + 4:
        raise _Refused(413, "body_too_large", f"the body exceeds {MAX_BODY} bytes")
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as e:
        raise _Refused(422, "invalid_request", f"the body cannot be decoded: {e}") from None
    if len(raw) > MAX_BODY:
        raise _Refused(413, "body_too_large", f"the body exceeds {MAX_BODY} bytes")
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_not_a_number, parse_float=_finite,
                          parse_int=_int)
    except RecursionError:
        raise _Refused(422, "invalid_request", "the body nests too deep") from None
    except ValueError as e:
        raise _Refused(422, "invalid_request", f"the body is not valid JSON: {e}") from None


def _rows(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or len(body) != 1 or not body.keys() <= {"features", "rows"}:
        raise _Refused(422, "invalid_request", 'the body is {"features": {name: value}} or {"rows": [{name: value}, …]}')
    rows = [body["features"]] if "features" in body else body["rows"]
    if not isinstance(rows, list) or not rows:
        raise _Refused(422, "invalid_request", '"rows" is a list of one or more objects')
    if len(rows) > MAX_ROWS:
        raise _Refused(413, "too_many_rows", f"{len(rows)} rows; at most {MAX_ROWS} in one request")
    for row in rows:
        if not isinstance(row, dict):
            raise _Refused(422, "invalid_request", "each row is an object {name: value}")
    return rows


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(_printable(n, 64)) for n in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _value(where: str, name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):  # an event that is not function URL JSON may carry float('nan')
            raise _Refused(422, "invalid_features", f"{where}feature {name!r} is not a finite number")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise _Refused(422, "invalid_features", f"{where}feature {name!r} holds a NUL character")
        if len(value) > MAX_TEXT:
            raise _Refused(422, "invalid_features", f"{where}feature {name!r} is longer than {MAX_TEXT} characters")
        return value
    raise _Refused(422, "invalid_features", f"{where}feature {name!r} is a {type(value).__name__}; "
                                            "a value is a number, a string, true, false or null")


def _plain(values: Any) -> list[Any]:
    out = []
    for v in np.asarray(values).tolist():
        if isinstance(v, np.generic):
            v = v.item()
        out.append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return out


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Predict for the event's rows. Raises ArtifactRefused when the model cannot be fetched, verified or loaded."""
    served = _model()
    try:
        return _response(200, served.answer(served.frame(_rows(_request(event)))))
    except _Refused as e:
        return _response(e.status, {"error": {"code": e.code, "message": e.message}})
    except Exception:
        log.exception("unhandled error while predicting")  # never the features
        return _response(500, {"error": {"code": "internal_error", "message": "an internal error; it has been logged"}})
