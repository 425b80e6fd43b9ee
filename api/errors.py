"""Every error as {"error": {"code", "message"}} with a stable code and the right status; a 500 is always a bug."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, printable
from ledger.errors import LedgerError

STATUS = {
    "invalid_input": 422, "invalid_argument": 400, "unauthenticated": 401, "forbidden": 403,
    # Routing and predictions: a config or an input that does not fit, a request id reused with another body, a
    # deployment that no longer serves (the config must change) or is answering all it may at once, a receipt asked
    # for before its position is sealed, an API node with no receipt key.
    "invalid_routing": 422, "invalid_features": 422, "request_id_reused": 409, "deployment_unavailable": 409,
    "deployment_busy": 503, "not_sealed_yet": 404, "receipts_not_configured": 503,
    "segregation_of_duties": 403, "not_found": 404, "conflict": 409, "illegal_transition": 409,
    "precondition_failed": 409, "artifact_hash_mismatch": 422, "database_unavailable": 503, "s3_unavailable": 503,
    "schema_mismatch": 503, "projection_behind": 503, "invalid_cursor": 400, "idempotency_key_reused": 409,
    "event_too_large": 413, "workers_unhealthy": 503, "body_too_large": 413, "body_timeout": 408,
    "invalid_dataset": 422, "dataset_too_large": 413, "artifact_invalid": 503,
    # A source is another server: its faults are a gateway's (502, 504), never the caller's 401/403.
    "source_unreachable": 502, "source_auth_failed": 502, "source_query_failed": 422, "source_timeout": 504,
    "source_not_found": 404, "source_too_large": 413, "source_invalid": 422,
    # The registered role, not the caller's request, is at fault; but retrying cannot help, so not a 502.
    "source_privileged": 422,
    # Group commit (ledger/group_commit.py): nothing recorded, or not known yet; either way the client may retry with
    # the same ids, and a replay of a recorded one is a conflict.
    "commit_failed": 503, "commit_unknown": 503, "already_recorded": 409,
}

#: Faults that mean the database cannot serve now (down, restarting, every pooled connection busy, a lock or
#: statement timeout), as the drivers raise them and as eventsourcing wraps them: the client may retry.
UNAVAILABLE = (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError,
               persistence.OperationalError, persistence.InterfaceError, persistence.ConnectionPoolClosedError)

log = logging.getLogger("govledger.api")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {400: "a malformed query: as_of, cursor or position", 401: "no API key, or an unknown, malformed or revoked one",
            403: "the caller's role may not do this (the attempt is recorded)", 404: "no such model, version, user or key",
            408: "the request body did not arrive in time", 409: "an illegal transition, a missing precondition, or a concurrent change",
            413: "the request body is larger than this route accepts", 422: "an invalid body or parameter",
            502: "a data source (a registered connection's server, S3) failed or refused our credentials",
            503: "the database is unavailable, the read models have not reached the position asked for, or a stored "
                 "artifact fails its hash check",
            504: "a data source did not answer in time"}
#: Every error any /v1 endpoint may answer, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, object]] = {status: {"model": ErrorBody, "description": text} for status, text in _MEANING.items()}


def error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def answer(e: Exception, where: str = "") -> JSONResponse:
    """The answer to an exception raised while serving `where` (a method and path, logged for bugs only)."""
    if isinstance(e, (DomainError, LedgerError)):
        return error(STATUS.get(e.code, 400 if isinstance(e, DomainError) else 500), e.code, e.message)
    if isinstance(e, UNAVAILABLE):
        log.warning("database unavailable: %s", type(e).__name__)  # the type only: messages may hold connection details
        return error(503, "database_unavailable", "the database is unavailable or busy; try again shortly")
    log.error("unhandled error on %s", where, exc_info=e)  # the path only: queries may hold data
    return error(500, "internal_error", "an internal error; it has been logged")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    @app.exception_handler(LedgerError)
    @app.exception_handler(Exception)
    async def failed(request: Request, e: Exception) -> JSONResponse:
        return answer(e, f"{request.method} {request.url.path}")

    for fault in UNAVAILABLE:
        app.add_exception_handler(fault, failed)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                             + (f" ({err['ctx']['error']})" if err.get("type") == "json_invalid" and err.get("ctx") else "")
                             for err in e.errors())
        return error(422, "invalid_request", printable(problems, 2_000))  # locations quote the caller's keys

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 400:
            # Starlette's only 400s are bodies it cannot parse (a malformed multipart upload: no boundary, too many
            # parts, a part header too long): a body of the wrong shape, answered like every other one.
            return error(422, "invalid_request", printable(f"body: {e.detail}", 2_000))
        return error(e.status_code, {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error"), str(e.detail))
