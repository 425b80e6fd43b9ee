"""The FastAPI application: routers gathered in one place, errors in one shape, health for the orchestrator."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from . import errors, exports, registry
from .deps import Services, ServicesDep


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="govledger", version="0.1.0",
                  description="A verifiable governance ledger for machine-learning models. Authenticate with `Authorization: Bearer <API key>`.")
    app.state.services = services
    errors.install(app)
    app.include_router(exports.router)
    app.include_router(registry.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(services: ServicesDep) -> dict[str, Any]:
        """The database answers."""
        with services.db.connect() as conn:
            conn.execute("SELECT 1").fetchone()
        return {"status": "ready", "database": services.db.describe()}

    return app
