"""Shared fixtures: a migrated SQLite file and a migrated database on the real local PostgreSQL.

PostgreSQL is reached at GOVLEDGER_TEST_PG (default postgresql://postgres@127.0.0.1:5432). With
CI=true an unreachable server fails the run; elsewhere the PostgreSQL tests are skipped with a reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from ledger.database import Database
from ledger.keys import create_signing_key, load_signer
from ledger.migrate import migrate

from .s3_server import moto_server

PG_BASE = os.environ.get("GOVLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG_BASE}/postgres", autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    try:
        admin = _admin()
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_BASE} is unreachable and CI=true: {e}")
        pytest.skip(f"PostgreSQL at {PG_BASE} is unreachable: {e}")
    name = f"gl_tmpl_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate(Database.from_url(f"{PG_BASE}/{name}"))
    yield name
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = f"gl_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield f"{PG_BASE}/{name}"
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pg_reader(url: str, *grants: str) -> Iterator[str]:
    """A least-privileged login role on the database at `url` (a superuser's URL), and its URL; dropped after.

    It may connect, use the schema public and SELECT its tables, those there now and those the superuser creates
    later, and whatever `grants` add ("GRANT USAGE ON SEQUENCE s TO {role}"). A dataset query through a superuser is
    refused (ledger/source_roles.py), so the tests fetch through such a role, as an operator must."""
    role = f"gl_reader_{uuid.uuid4().hex[:10]}"
    database = urlsplit(url).path.removeprefix("/")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")  # no password: this server trusts local logins
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}")
        for grant in grants:
            conn.execute(grant.format(role=role))
    parts = urlsplit(url)
    try:
        yield parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # its grants and default privileges, in this database
            conn.execute(f"DROP ROLE {role}")


@pytest.fixture
def pg_reader_url(pg_url: str) -> Iterator[str]:
    """A least-privileged role's URL on pg_url's database (see pg_reader): register this, not pg_url, as a data
    connection."""
    with pg_reader(pg_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(Database.from_url(url))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def db(db_url: str) -> Database:
    return Database.from_url(db_url)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing.key"
    create_signing_key(path, "test.govledger/ledger")
    return path


@pytest.fixture
def signer(key_path: Path):
    return load_signer(key_path)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible endpoint (moto's standalone server) for the whole run."""
    try:
        with moto_server() as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))
