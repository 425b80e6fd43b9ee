"""The FastAPI application: routers gathered in one place, errors in one shape, health and metrics for operations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ledger.health import require_healthy_workers

from . import audit, compliance, errors, exports, metrics, models, users
from .deps import Services, ServicesDep


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="govledger", version="0.2.0",
                  description="A verifiable governance ledger for machine-learning models. Authenticate with "
                              "`Authorization: Bearer <API key>`. Errors are `{\"error\": {\"code\", \"message\"}}` (docs/api.md).")
    app.state.services = services
    app.state.metrics = metrics.Metrics(services)
    errors.install(app)
    for module in (models, compliance, audit, users, exports, metrics):
        app.include_router(module.router)
    app.add_middleware(_Measured, metrics=app.state.metrics)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(services: ServicesDep) -> dict[str, Any]:
        """The database answers and no worker has failed or gone silent."""
        with services.db.connect() as conn:
            conn.execute("SELECT 1").fetchone()
            require_healthy_workers(services.db, conn)  # a failed or silent worker: 503 workers_unhealthy
        return {"status": "ready", "database": services.db.describe()}

    return app


class _Measured:
    """ASGI middleware adapter for Metrics.middleware (Starlette instantiates middleware classes itself)."""

    def __init__(self, app: Any, metrics: metrics.Metrics) -> None:
        self.call = metrics.middleware(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.call(scope, receive, send)
