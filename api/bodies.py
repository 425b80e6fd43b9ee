"""Request bodies parsed as strict JSON (RFC 8259): one meaning per body, or a 422.

Python's json module takes a duplicated key's last value (a proxy or a reviewer reading the first would see another
request than the ledger records), NaN and Infinity (not JSON), and numbers too large for a float as infinity; and a
body that is not UTF-8, nests too deep or holds a number too long raised something FastAPI answered with an
undocumented `400 http_error`. Here each is a JSONDecodeError, which FastAPI answers as `422 invalid_request`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key[:64]!r} appears twice in one object")
        found[key] = value
    return found


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is too large for a float")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 100:  # the domain keeps integers within int64 anyway
        raise ValueError(f"the number {text[:16]}… has {len(text)} digits")
    return int(text)


def strict_loads(body: bytes) -> Any:
    """The body as JSON, or a JSONDecodeError saying why not."""
    try:
        return json.loads(body, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float,
                          parse_int=_int)
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError:
        raise json.JSONDecodeError("the body is not UTF-8 text", "", 0) from None
    except RecursionError:
        raise json.JSONDecodeError("the body nests too deep", "", 0) from None
    except ValueError as e:  # a duplicated key, NaN/Infinity, a number beyond a float or with too many digits
        raise json.JSONDecodeError(str(e), "", 0) from None


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is parsed by strict_loads."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict
