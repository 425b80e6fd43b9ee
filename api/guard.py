"""The HTTP edge, before any route runs: the caller is authenticated before a byte of the body is read, and bodies
are bounded in size (on Content-Length, and again while a chunked body streams) and in time.

Without this, FastAPI reads and parses a whole body before its dependencies run, so an anonymous client could
make the server hold any amount of memory, and a slow one could hold a connection for ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from domain.errors import Unauthenticated
from domain.roles import Action, allowed
from ledger.settings import MIB, Settings

from .errors import answer, error

#: The largest request line plus headers that the server (h11) buffers.
HEADER_LIMIT = 16 * 1024
#: Routes whose bodies are uploads (model artifacts; dataset files), and the action they need: bounded by Limits.upload
#: for a caller whose role may take that action, by Limits.body for anyone else (whose upload would only be refused,
#: after the server had read and parsed up to 96 MiB of it).
UPLOADS = (("POST", "/v1/models/{model_id}/versions", Action.TRAIN), ("POST", "/v1/datasets/uploads", Action.TRAIN))
#: Paths that need an API key; /healthz, /readyz and the documentation do not.
AUTHENTICATED = re.compile(r"^/(v1/|metrics$)")
#: Paths a routing key opens instead of an API key (the prediction endpoint), or as well as one (receipts' proofs).
ROUTING_KEY_ONLY = re.compile(r"^/v1/predict$")
ROUTING_KEY_TOO = re.compile(r"^/v1/receipts/")


@dataclass(frozen=True)
class Limits:
    body: int = MIB
    upload: int = 96 * MIB
    body_timeout: float = 60.0

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.http_max_body, settings.http_max_upload, settings.http_body_timeout)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


_UPLOADS = [(method, _pattern(template), action) for method, template, action in UPLOADS]


class Guard:
    """ASGI middleware: authentication first, then the body's size and deadline. The actor it authenticated is
    left in the request's state for the route's dependency, so each request looks its key up once."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        actor = None
        if AUTHENTICATED.match(path):
            try:
                actor = await run_in_threadpool(_authenticate, scope)
            except Exception as e:  # every refusal or fault becomes its JSON answer, the body unread
                return await answer(e, f"{method} {path}")(scope, receive, send)
            scope.setdefault("state", {})["actor"] = actor
        if sum(key.lower() == b"idempotency-key" for key, _ in scope["headers"]) > 1:  # which one would a retry repeat?
            return await error(422, "invalid_request", "send one Idempotency-Key header, not several")(scope, receive, send)
        upload = actor is not None and any(m == method and p.match(path) and allowed(actor.role, action)
                                           for m, p, action in _UPLOADS)
        limit = self.limits.upload if upload else self.limits.body
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit)(scope, receive, send)
        await _Body(self.app, limit, self.limits.body_timeout).run(scope, receive, send)


def _authenticate(scope: dict[str, Any]) -> Any:
    if sum(key.lower() == b"authorization" for key, _ in scope["headers"]) > 1:  # a proxy may read another than we do
        raise Unauthenticated("send one Authorization header, not several")
    header = _header(scope, b"authorization") or ""
    scheme, _, token = header.partition(" ")
    services, path = scope["app"].state.services, scope["path"]
    routing = ROUTING_KEY_ONLY.match(path) or (ROUTING_KEY_TOO.match(path) and token.strip().startswith("grk_"))
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(f"send {'a routing' if routing else 'an API'} key as `Authorization: Bearer <key>`")
    if routing:
        services.serving().config_for(token.strip())  # the routing config it selects; no user acts
        return None
    return services.governance.authenticate(token.strip())


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _too_large(limit: int) -> Any:
    return error(413, "body_too_large", f"the request body is larger than the {limit} bytes this route accepts")


class _Body:
    """One request's body, counted as it streams and read before its deadline; past either bound the client gets
    its error at once and the route sees a disconnected client (its own answer is dropped)."""

    def __init__(self, app: Any, limit: int, timeout: float) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout
        self.received = 0
        self.complete = False
        self.started = False  # the route began its answer
        self.refused = False  # we answered instead

    async def run(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.deadline = anyio.current_time() + self.timeout
        self.scope, self.receive, self.send = scope, receive, send
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> dict[str, Any]:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:  # after the body: a streaming answer listening for the client going away
            return await self.receive()  # type: ignore[no-any-return]
        with anyio.move_on_after(self.deadline - anyio.current_time()) as waiting:
            message = await self.receive()
        if waiting.cancelled_caught:
            return await self._refuse(error(408, "body_timeout", f"the request body did not arrive within {self.timeout:g} s"))
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                return await self._refuse(_too_large(self.limit))
            self.complete = not message.get("more_body", False)
        return message  # type: ignore[no-any-return]

    async def _refuse(self, response: Any) -> dict[str, Any]:
        self.refused = True
        if not self.started:
            await response(self.scope, self.receive, self.send)
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self.refused:
            return
        self.started = True
        await self.send(message)
