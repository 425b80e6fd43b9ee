"""Every error as {"error": {"code", "message"}} with a stable code and the right status; a 500 is always a bug."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError
from ledger.errors import LedgerError

STATUS = {
    "invalid_input": 422, "invalid_argument": 400, "unauthenticated": 401, "forbidden": 403,
    "segregation_of_duties": 403, "not_found": 404, "conflict": 409, "illegal_transition": 409,
    "precondition_failed": 409, "artifact_hash_mismatch": 422, "database_unavailable": 503, "s3_unavailable": 503,
    "schema_mismatch": 503, "projection_behind": 503, "invalid_cursor": 400,
}


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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error(e.status_code, {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error"), str(e.detail))
