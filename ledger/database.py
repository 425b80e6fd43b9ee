"""Database URLs and raw connections for the parts of the store that work below the recorders.

`GOVLEDGER_DATABASE_URL` is `sqlite:///PATH` (relative or absolute) or
`postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=NAME]`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ConfigError, DatabaseUnavailable

EVENTS_TABLE = "ledger_events"
SQLITE_BUSY_TIMEOUT_S = 30
#: Every PostgreSQL session of the service (not migrations) carries these, so one stuck writer cannot freeze the others:
#: a writer waits at most lock_timeout for the insert lock, no statement runs longer than statement_timeout, and a
#: transaction left open by a stalled client is ended (and its locks released) after idle_in_transaction_session_timeout.
SESSION_TIMEOUTS = {"lock_timeout": "5s", "statement_timeout": "60s", "idle_in_transaction_session_timeout": "60s"}
#: The sessions that append (the application's pool) hold the insert lock inside their transactions: end a stalled one sooner.
APPEND_IDLE_TIMEOUT_S = 5


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"

    @classmethod
    def from_url(cls, url: str) -> Database:
        if not url or not isinstance(url, str):
            raise ConfigError("the database URL is empty")
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if not path or path.endswith("/"):
                raise ConfigError(f"sqlite URL {url!r} names no file; use sqlite:///PATH")
            return cls("sqlite", path=Path(unquote(path)))
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"unsupported database URL scheme {parts.scheme or url!r}: use sqlite:///PATH or postgresql://…")
        dbname = unquote(parts.path.lstrip("/"))
        try:
            port = parts.port or 5432
        except ValueError:
            raise ConfigError("the PostgreSQL URL has an invalid port") from None
        if not parts.hostname or not dbname or "/" in dbname:
            raise ConfigError("a PostgreSQL URL needs a host and a database name: postgresql://USER@HOST:PORT/DBNAME")
        schema = parse_qs(parts.query).get("schema", ["public"])[0]
        if not schema.isidentifier():
            raise ConfigError(f"schema {schema!r} is not a plain identifier")
        return cls(
            "postgresql",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
            schema=schema,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"

    def describe(self) -> str:
        """The URL without its password, safe to print and log."""
        if self.is_sqlite:
            return f"sqlite:///{self.path}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}?schema={self.schema}"

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment that makes an eventsourcing Application use the chained recorders on this database."""
        if self.is_sqlite:
            return {
                "PERSISTENCE_MODULE": "ledger.recorders:ChainedSQLiteFactory",
                "SQLITE_DBNAME": str(self.path),
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_BUSY_TIMEOUT_S),
                "CREATE_TABLE": "false",
            }
        return {
            "PERSISTENCE_MODULE": "ledger.recorders:ChainedPostgresFactory",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            # The library sets this itself after connecting, over SESSION_TIMEOUTS' value.
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(APPEND_IDLE_TIMEOUT_S),
            "CREATE_TABLE": "false",
        }

    def yoyo_url(self) -> str:
        if self.is_sqlite:
            return f"sqlite:///{self.path}"
        from urllib.parse import quote

        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{quote(self.dbname, safe='')}?schema={self.schema}"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A raw DB-API connection (sqlite3 or psycopg) in manual-commit mode; closed on exit."""
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    def open(self) -> Any:
        """A raw connection as `connect` gives, for a caller that keeps it across calls and closes it itself."""
        return self._open()

    def _open(self) -> Any:
        if self.is_sqlite:
            assert self.path is not None
            if not self.path.parent.exists():
                raise DatabaseUnavailable(f"the directory of {self.describe()} does not exist; run `govledger init`")
            try:
                conn = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as e:
                raise DatabaseUnavailable(f"cannot open {self.describe()}: {e}") from None
            return conn
        import psycopg

        try:
            conn = psycopg.connect(
                host=self.host, port=self.port, user=self.user, password=self.password,
                dbname=self.dbname, connect_timeout=5, options=f"-c search_path={self.schema} {self.session_options()}",
            )
        except psycopg.Error as e:
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise DatabaseUnavailable(f"cannot connect to {self.describe()}: {reason}") from None
        return conn

    @staticmethod
    def session_options() -> str:
        """libpq `options` that set SESSION_TIMEOUTS when a PostgreSQL session starts."""
        return " ".join(f"-c {name}={value}" for name, value in SESSION_TIMEOUTS.items())

    @property
    def nid_column(self) -> str:
        """The events table's notification id column (SQLite's rowid); ledger position = id − 1."""
        return "rowid" if self.is_sqlite else "notification_id"

    def events(self, conn: Any) -> int:
        """How many events the ledger holds: the last notification id (ids are dense, from 1)."""
        return int(conn.execute(f"SELECT COALESCE(MAX({self.nid_column}), 0) FROM ledger_events").fetchone()[0])

    def param(self) -> str:
        """The DB-API placeholder of this database's driver."""
        return "?" if self.is_sqlite else "%s"
