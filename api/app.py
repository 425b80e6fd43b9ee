"""The FastAPI application: routers gathered in one place, errors in one shape, health and metrics for operations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from . import (
    audit,
    batch,
    compliance,
    connections,
    datasets,
    deployments,
    docs,
    errors,
    exports,
    health,
    jobs,
    metrics,
    models,
    predict,
    receipts,
    routing,
    users,
)
from .deps import Services
from .guard import Guard, Limits


def create_app(services: Services, limits: Limits | None = None) -> FastAPI:
    app = FastAPI(title="govledger", version="0.2.0", docs_url=None, redoc_url=None,
                  description="A verifiable governance ledger for machine-learning models. Authenticate with "
                              "`Authorization: Bearer <API key>`. Errors are `{\"error\": {\"code\", \"message\"}}` (docs/api.md).")
    app.state.services = services
    app.state.metrics = metrics.Metrics(services)
    errors.install(app)
    docs.install(app)
    for module in (models, batch, deployments, routing, predict, receipts, datasets, jobs, connections, compliance, audit, users, exports, metrics, health):
        app.include_router(module.router)
    app.add_middleware(Guard, limits=limits or Limits())
    app.add_middleware(_Measured, metrics=app.state.metrics)  # outermost: refusals at the edge are counted too

    return app


class _Measured:
    """ASGI middleware adapter for Metrics.middleware (Starlette instantiates middleware classes itself)."""

    def __init__(self, app: Any, metrics: metrics.Metrics) -> None:
        self.call = metrics.middleware(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.call(scope, receive, send)
