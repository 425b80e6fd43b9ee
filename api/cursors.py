"""Pagination cursors that only this service can make: each is signed (HMAC-SHA256) together with the caller's
user id and the list it pages (route and filters), so a forged, tampered, borrowed or transplanted cursor is refused.

A cursor pins a ledger position; without the signature a caller could write any position into one and read the
registry as it stood then, which is time travel that their role may not have and that nothing would record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError


class InvalidCursor(LedgerError):
    code = "invalid_cursor"


_REFUSED = "the cursor is not one this service issued to you for this list; start again without it"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CursorSigner:
    """Signs and opens cursors for one caller on one list. `listing` names the route and its filters."""

    secret: bytes
    user: str
    listing: str

    def _mac(self, body: str) -> bytes:
        message = json.dumps(["govledger-cursor/1", self.user, self.listing, body]).encode()
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def issue(self, position: int, key: list[Any]) -> str:
        body = _b64(json.dumps({"p": position, "k": key}, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def open(self, cursor: str) -> tuple[int, list[Any]]:
        """The position and key a cursor holds, once its signature is checked; InvalidCursor otherwise."""
        body, _, mac = cursor.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(body)):
                raise ValueError
            raw = json.loads(_unb64(body))
            position, key = raw["p"], raw["k"]
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor(_REFUSED) from None
        if (not isinstance(position, int) or isinstance(position, bool) or position < 0 or not isinstance(key, list)
                or not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in key)):
            raise InvalidCursor(_REFUSED)  # signed by us, so never expected: fail closed all the same
        return position, key
