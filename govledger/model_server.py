"""One model version served over HTTP, loaded only when the artifact's bytes hash to the SHA-256 the ledger recorded.

This is what an EC2 instance or an Auto Scaling group runs (`govledger serve-model`). The Lambda handler
(workers/targets/lambda_handler.py) answers the same requests in the same way without govledger installed; the
tests hold both to one set of cases.

    GET  /healthz  → {"status": "ok", "artifact_sha256"}
    POST /predict  {"features": {name: value}} or {"rows": [{name: value}, …]} (1 to MAX_ROWS rows)
                   → {"predictions": […], "scores": […] | null, "artifact_sha256"}

A request names every input column of the model and no other: the pipeline's `feature_names_in_`, or, for a model
fitted without column names, x0 … x{n-1} (scikit-learn's own names for them), so a value never lands in another
feature's column by its position. A score is the probability of the model's last class (`classes_[-1]`, the
positive class of a binary classifier); models without predict_proba answer `"scores": null`.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.bodies import strict_loads
from domain.errors import printable
from ledger.artifacts import ArtifactError, load_model_bytes

__all__ = ["MAX_BODY", "MAX_ROWS", "make_app"]

MAX_ROWS = 1_000
MAX_BODY = 2 * 1024 * 1024
#: The longest text value of one feature, in characters.
MAX_TEXT = 10_000

log = logging.getLogger("govledger.model_server")


class _Refused(Exception):
    """A request the server answers with an error: its status, a stable code and a message quoting no more than needed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, printable(message, 2_000)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# -- the request body -------------------------------------------------------------------------------

def _json(body: bytes) -> Any:
    """The body as strict JSON (RFC 8259): no NaN or Infinity, no duplicated key, no number beyond a float — the
    API's own parser."""
    try:
        return strict_loads(body)
    except json.JSONDecodeError as e:
        raise _Refused(422, "invalid_request", f"the body is not valid JSON: {e.msg}") from None


async def _read(request: Request) -> bytes:
    """The body, refused as soon as it is known to exceed MAX_BODY (declared, or while it streams)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Refused(413, "body_too_large", f"the body exceeds {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, "body_too_large", f"the body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
    shown = ", ".join(repr(printable(n, 64)) for n in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _value(where: str, name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
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


# -- the model ----------------------------------------------------------------------------------------

class _Served:
    """The loaded model, its input columns, and how it turns checked rows into an answer."""

    def __init__(self, model: Any, sha256: str) -> None:
        self.model, self.sha256 = model, sha256
        names = getattr(model, "feature_names_in_", None)
        count = getattr(model, "n_features_in_", None)
        if names is not None:
            self.columns, self.named = [str(n) for n in names], True
        elif isinstance(count, int) and count > 0:
            self.columns, self.named = [f"x{i}" for i in range(count)], False
        else:
            raise ArtifactError(f"artifact {sha256} names no input features (feature_names_in_) and does not say how "
                                "many it takes (n_features_in_): it cannot be served")
        if not hasattr(model, "predict"):
            raise ArtifactError(f"artifact {sha256} holds a {type(model).__name__}, which has no predict method")
        self.known = set(self.columns)

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The rows as a frame in the model's column order, or a 422 naming missing and unknown features."""
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
        except (ValueError, TypeError) as e:  # a value the model cannot take: text in a numeric column, say
            raise _Refused(422, "invalid_features", f"the model cannot score these values: {e}") from None
        return {"predictions": _plain(predictions), "scores": None if scores is None else _plain(scores),
                "artifact_sha256": self.sha256}


def _plain(values: Any) -> list[Any]:
    """Values JSON can carry: numpy scalars as Python ones, NaN and infinities as null."""
    out = []
    for v in np.asarray(values).tolist():
        if isinstance(v, np.generic):
            v = v.item()
        out.append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return out


# -- the application ------------------------------------------------------------------------------------

def make_app(artifact: Path, sha256: str) -> FastAPI:
    """The model server for the artifact at `artifact`. Raises ArtifactError, and serves nothing, when the file's
    bytes do not hash to `sha256` or hold a type outside the trusted policy of ledger.artifacts."""
    served = _Served(load_model_bytes(artifact.read_bytes(), sha256), sha256)
    app = FastAPI(title="govledger model server", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(_Refused)
    async def refused(_: Request, e: _Refused) -> JSONResponse:
        return _error(e.status, e.code, e.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error"),
                      str(e.detail))

    @app.exception_handler(Exception)
    async def failed(request: Request, e: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=e)  # never the features
        return _error(500, "internal_error", "an internal error; it has been logged")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "artifact_sha256": sha256}

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        frame = served.frame(_rows(_json(await _read(request))))
        return JSONResponse(await run_in_threadpool(served.answer, frame))

    return app
