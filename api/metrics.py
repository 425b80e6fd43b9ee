"""Prometheus metrics: requests by route template and status, latency, and the ledger's and read models' positions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ledger.health import worker_gauges, worker_statuses
from projections.runner import tracked

from .bodies import StrictJsonRoute
from .deps import CurrentActor, Services
from .errors import RESPONSES

router = APIRouter(route_class=StrictJsonRoute, tags=["operations"], responses={k: v for k, v in RESPONSES.items() if k in (401, 503)})


class LedgerCollector(Collector):
    """Read at scrape time, so every API process reports the shared database's state."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        db = self.services.db
        with db.connect() as conn:
            events = db.events(conn)
            sealed = int(conn.execute("SELECT COALESCE(MAX(tree_size), 0) FROM ledger_checkpoints").fetchone()[0])
            projected = tracked(conn, db)
            workers = worker_statuses(db, conn)
        yield from worker_gauges(workers)
        yield GaugeMetricFamily("govledger_ledger_events", "events recorded in the ledger", value=events)
        yield GaugeMetricFamily("govledger_sealed_events", "events covered by the latest signed checkpoint", value=sealed)
        yield GaugeMetricFamily("govledger_projected_events", "events applied to the read models", value=projected)


#: The methods counted by name; any other token a client sends as a method is counted as "other", so anonymous
#: requests cannot add label series (memory, and a scrape that grows without bound) one invented method at a time.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class Metrics:
    """Per-process request metrics (each API process is scraped as its own target)."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("govledger_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("govledger_http_request_seconds", "time to answer an HTTP request", ["method", "route"],
                                 registry=self.registry, buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        self.registry.register(LedgerCollector(services))

    def middleware(self, app: Any) -> Any:
        async def measured(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            status = {"code": 500}
            start = time.perf_counter()

            async def sending(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")  # the template, never the raw path
                method = scope["method"] if scope["method"] in METHODS else "other"  # a client may send any token
                self.requests.labels(method, route, str(status["code"])).inc()
                self.latency.labels(method, route).observe(time.perf_counter() - start)

        return measured


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request, actor: CurrentActor) -> Response:
    """Prometheus metrics, for any authenticated caller (scrape with `authorization: {credentials: <API key>}`)."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
