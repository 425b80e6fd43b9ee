"""Liveness and readiness. Anyone may learn whether the service is ready; why it is not is told only to a
superadmin (an operator), since the reasons name the service's internals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from domain.roles import Role
from ledger.health import WorkersUnhealthy, require_healthy_workers

from .bodies import StrictJsonRoute
from .deps import Services
from .errors import UNAVAILABLE

router = APIRouter(route_class=StrictJsonRoute, tags=["operations"])
log = logging.getLogger("govledger.api")

#: How long readiness waits for a pooled database connection: a pool whose every connection is stuck is not ready.
POOL_WAIT_S = 2.0


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] | None = None  # only for a superadmin: each check, "ok" or why not


def database(services: Services) -> str | None:
    """A connection from the pool the commands use, taken within POOL_WAIT_S, answers a query."""
    datastore = services.governance.recorder.datastore  # type: ignore[attr-defined]
    pool = datastore.pool
    try:
        if hasattr(pool, "put_connection"):  # eventsourcing's own pool (SQLite)
            conn = pool.get_connection(timeout=POOL_WAIT_S, is_writer=False)
            try:
                conn.cursor().execute("SELECT 1")
            finally:
                pool.put_connection(conn)
        else:  # psycopg_pool (PostgreSQL)
            pool.open(wait=False)
            with pool.connection(timeout=POOL_WAIT_S) as conn:
                conn.execute("SELECT 1").fetchone()
    except UNAVAILABLE as e:
        return f"database unavailable or every pooled connection busy ({type(e).__name__})"
    return None


def workers(services: Services) -> str | None:
    """No worker (sealer, projector) has failed or gone silent, by the status each one reports."""
    try:
        with services.db.connect() as conn:
            require_healthy_workers(services.db, conn)
    except WorkersUnhealthy as e:
        return str(e)
    return None


#: Each check answers None when fine, else why not.
CHECKS: dict[str, Callable[[Services], str | None]] = {"database": database, "workers": workers}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, response_model_exclude_none=True,
            responses={503: {"model": Readiness, "description": "not ready (why: only with a superadmin's key)"}})
def readyz(request: Request) -> Any:
    """Ready to serve: the database answers through the command pool, and every other check passes. With a
    superadmin's `Authorization: Bearer` key the answer names each check and why it failed."""
    services: Services = request.app.state.services
    results = {name: _run(name, check, services) for name, check in CHECKS.items()}
    ready = all(result is None for result in results.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    if results.get("database") is None and _is_operator(request, services):  # identifying a caller needs the database
        body["checks"] = {name: result or "ok" for name, result in results.items()}
    return JSONResponse(body, status_code=200 if ready else 503)


def _run(name: str, check: Callable[[Services], str | None], services: Services) -> str | None:
    try:
        result = check(services)
    except Exception as e:  # a check that cannot run means not ready, never a 500 from the probe
        result = f"the check failed ({type(e).__name__})"
    if result is not None:
        log.warning("not ready: %s: %s", name, result)
    return result


def _is_operator(request: Request, services: Services) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        return services.governance.authenticate(token.strip()).role is Role.SUPERADMIN
    except Exception:  # an unknown key, or a database too sick to say: answer as to anyone
        return False
