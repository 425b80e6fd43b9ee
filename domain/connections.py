"""Named data connections: where the ledger may read a dataset from (a PostgreSQL or MySQL/MariaDB database).

A connection's URL holds credentials, which never enter an event: `Registered` records the kind, host, port and
database only, and the URL goes to a credential store outside the ledger (`services.sources.CredentialStore`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import IllegalTransition, InvalidInput
from .inputs import check_text
from .users import NAMESPACE

KINDS = {"postgresql": 5432, "mysql": 3306}  # scheme → default port
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: What a URL may carry besides its address: TLS for PostgreSQL. Anything else could change how the session runs.
_PG_OPTIONS = {"sslmode": {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}}
#: Never quotes the URL: it may hold a password.
_SHAPE = "a connection URL is postgresql://USER:PASSWORD@HOST:PORT/DATABASE or mysql://USER:PASSWORD@HOST:PORT/DATABASE"


def connection_id_for(name: str) -> UUID:
    return uuid5(NAMESPACE, f"connection:{name}")


def check_connection_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("a connection's name is an identifier of at most 64 characters (letters, digits, _)")
    return name


@dataclass(frozen=True)
class ConnectionUrl:
    """A parsed connection URL; `redacted` is what may be shown, logged or recorded (no password)."""

    kind: str
    host: str
    port: int
    database: str
    user: str

    @classmethod
    def parse(cls, url: object) -> ConnectionUrl:
        text = check_text(url, "a connection URL", max_length=2_000)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise InvalidInput(_SHAPE) from None
        if parts.scheme not in KINDS or not parts.hostname or parts.fragment:
            raise InvalidInput(_SHAPE)
        database = unquote(parts.path.removeprefix("/"))
        if not database or "/" in database:
            raise InvalidInput(f"{_SHAPE}: name one database")
        options = parse_qsl(parts.query, keep_blank_values=True)
        for key, value in options:
            if parts.scheme != "postgresql" or value not in _PG_OPTIONS.get(key, ()):
                raise InvalidInput(f"{_SHAPE}; the only option is sslmode, for PostgreSQL")
        return cls(parts.scheme, parts.hostname, port or KINDS[parts.scheme], database, unquote(parts.username or ""))

    @property
    def redacted(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{self.kind}://{user}{self.host}:{self.port}/{self.database}"


class DataConnection(Aggregate):
    """A database the ledger may read datasets from, registered once by name; its credentials live elsewhere."""

    @event("Registered")
    def __init__(self, name: str, kind: str, host: str, port: int, database: str, registered_by: str) -> None:
        self.name = name
        self.kind = kind
        self.host = host
        self.port = port
        self.database = database
        self.registered_by = registered_by
        self.revoked_by: str | None = None

    @staticmethod
    def create_id(name: str, kind: str, host: str, port: int, database: str, registered_by: str) -> UUID:
        return connection_id_for(name)

    @classmethod
    def register(cls, name: str, url: ConnectionUrl, registered_by: str) -> DataConnection:
        return cls(check_connection_name(name), url.kind, url.host, url.port, url.database, registered_by)

    @property
    def active(self) -> bool:
        return self.revoked_by is None

    def check_active(self) -> None:
        if not self.active:
            raise IllegalTransition(f"connection {self.name} was revoked by {self.revoked_by}")

    def revoke(self, revoked_by: str) -> None:
        self.check_active()
        self._revoked(revoked_by)

    @event("Revoked")
    def _revoked(self, revoked_by: str) -> None:
        self.revoked_by = revoked_by
