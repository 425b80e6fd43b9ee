"""Every error as {"error": {"code", "message"}} with a stable code and the right status; a 500 is always a bug."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError
from ledger.errors import LedgerError

STATUS = {
    "invalid_input": 422, "invalid_argument": 400, "unauthenticated": 401, "forbidden": 403,
    "segregation_of_duties": 403, "not_found": 404, "conflict": 409, "illegal_transition": 409,
    "precondition_failed": 409, "artifact_hash_mismatch": 422, "database_unavailable": 503, "s3_unavailable": 503,
    "schema_mismatch": 503, "projection_behind": 503, "invalid_cursor": 400, "idempotency_key_reused": 409,
    "event_too_large": 413, "workers_unhealthy": 503,
}

log = logging.getLogger("govledger.api")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {400: "a malformed query: as_of, cursor or position", 401: "no API key, or an unknown, malformed or revoked one",
            403: "the caller's role may not do this (the attempt is recorded)", 404: "no such model, version, user or key",
            409: "an illegal transition, a missing precondition, or a concurrent change", 422: "an invalid body or parameter",
            503: "the database is unavailable, or the read models have not reached the position asked for"}
#: Every error any /v1 endpoint may answer, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, object]] = {status: {"model": ErrorBody, "description": text} for status, text in _MEANING.items()}


def error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, e: DomainError) -> JSONResponse:
        return error(STATUS.get(e.code, 400), e.code, e.message)

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, e: LedgerError) -> JSONResponse:
        return error(STATUS.get(e.code, 500), e.code, e.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        return error(422, "invalid_request", problems)

    @app.exception_handler(sqlite3.OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, e: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(e).__name__)
        return error(503, "database_unavailable", "the database is unavailable or busy; try again shortly")

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)  # the path only: queries may hold data
        return error(500, "internal_error", "an internal error; it has been logged")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error(e.status_code, {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error"), str(e.detail))
