"""Users and their API keys. A key is shown once; the ledger holds only its SHA-256, never the key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import Conflict, InvalidInput, Unauthenticated
from .roles import Role
from .timed import TimedAggregate

NAMESPACE = UUID("4f0c2d8e-5b7a-4d1e-9c3f-6a2b8e9d0c11")
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
_TOKEN = re.compile(r"^glk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def user_id_for(username: str) -> UUID:
    """Users are addressed by name: the id is derived from it, so a name can be taken only once."""
    return uuid5(NAMESPACE, f"user:{username}")


def api_key_id_for(key_id: str) -> UUID:
    return uuid5(NAMESPACE, f"apikey:{key_id}")


def check_username(username: str) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InvalidInput("a username is 3 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter")
    return username


def new_api_key() -> tuple[str, str]:
    """A fresh key: (public key id, the full key to show once). Format: glk_<16 hex>_<43 base64url>."""
    key_id = secrets.token_hex(8)
    return key_id, f"glk_{key_id}_{secrets.token_urlsafe(32)}"


def parse_api_key(token: str) -> str:
    """The key id of a well-formed key; anything else is refused without saying more."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise Unauthenticated("the API key is malformed")
    return match.group(1)


def hash_api_key(token: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 cannot be brute-forced; no salt or KDF is needed.
    return hashlib.sha256(token.encode()).hexdigest()


class User(TimedAggregate):
    @event("Created")
    def __init__(self, username: str, role: Role, created_by: str, identity: str | None = None) -> None:
        self.username = username
        self.role = Role(role)
        self.created_by = created_by
        self.identity = identity  # personal data, only ever as a subject-encrypted token
        self.active = True
        self.keys: dict[str, dict[str, object]] = {}

    @staticmethod
    def create_id(username: str) -> UUID:
        return user_id_for(username)

    @event("RoleChanged")
    def change_role(self, role: Role, changed_by: str) -> None:
        self.role = Role(role)

    @event("ApiKeyIssued")
    def record_key(self, key_id: str, label: str, issued_by: str | None = None) -> None:
        self.keys[key_id] = {"label": label, "issued_at": self.modified_on, "revoked": False}

    @event("ApiKeyRevoked")
    def record_key_revoked(self, key_id: str, revoked_by: str | None = None) -> None:
        self.keys[key_id]["revoked"] = True

    @event("Deactivated")
    def deactivate(self, deactivated_by: str) -> None:
        self.active = False


class ApiKey(Aggregate):
    @event("Issued")
    def __init__(self, key_id: str, user_id: UUID, label: str, key_hash: str, issued_by: str) -> None:
        self.key_id = key_id
        self.user_id = user_id
        self.label = label
        self.key_hash = key_hash
        self.issued_by = issued_by
        self.revoked = False

    @staticmethod
    def create_id(key_id: str, user_id: UUID, label: str, key_hash: str, issued_by: str) -> UUID:
        return api_key_id_for(key_id)

    def check_key(self, token: str) -> None:
        if not hmac.compare_digest(self.key_hash, hash_api_key(token)):
            raise Unauthenticated("the API key is not valid")
        if self.revoked:
            raise Unauthenticated("the API key has been revoked")

    def revoke(self, revoked_by: str) -> None:
        if self.revoked:
            raise Conflict(f"API key {self.key_id} is already revoked")
        self._revoke(revoked_by)

    @event("Revoked")
    def _revoke(self, revoked_by: str) -> None:
        self.revoked = True
