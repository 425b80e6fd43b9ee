"""Fetching datasets from PostgreSQL, MariaDB and S3 (real servers: see tests/conftest.py), and the encrypted store
of connection URLs. PostgreSQL here trusts every local login, so a wrong password cannot be refused there: its
credential failures are tested with a role that does not exist; MariaDB checks passwords and is tested with one."""

from __future__ import annotations

import csv
import logging
import os
import re
import stat
import traceback
import uuid
from pathlib import Path
from urllib.parse import quote

import boto3
import psycopg
import pymysql
import pytest

from domain.application import Governance
from domain.roles import Role
from domain.services.sources import Sources
from ledger.connections import ConnectionCredentials
from ledger.database import Database
from ledger.errors import ConfigError
from ledger.keys import connections_key
from ledger.settings import load_settings
from ledger.sources import (
    SourceAuthFailed,
    SourceError,
    SourceInvalid,
    SourceNotFound,
    SourceQueryFailed,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
    check_query,
    fetch_object,
    fetch_query,
)
from tests.conftest import IN_CI, PG_BASE, pg_reader
from tests.s3_server import CREDENTIALS, free_port

from .helpers import login_url

MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PASSWORD = "Maria-s3cret:9Q7z/@x"  # distinctive, and with characters a URL must quote
WRONG = "Wr0ng-pa55-4e1b"
KEY = bytes(range(32))
LIMITS = {"max_bytes": 1_000_000, "timeout_s": 10}


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


# -- fixtures: a fresh database on each server, dropped after ----------------------------------------------------


@pytest.fixture
def pg_source():
    name = f"src_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(f"{PG_BASE}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_BASE} is unreachable and CI=true: {e}")
        pytest.skip(f"PostgreSQL at {PG_BASE} is unreachable: {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{PG_BASE}/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE loans (id int, amount numeric(10,2), holder text, approved boolean, note text,"
                     " opened date, seen timestamp)")
        conn.execute("INSERT INTO loans VALUES (1, 1200.50, 'Ada, \"the\" first', true, NULL, '2026-01-02', '2026-01-02 03:04:05'),"
                     " (2, 80, 'Bo', false, 'late', '2026-02-03', NULL)")
        conn.execute("CREATE SEQUENCE tickets")
    # A reader, as an operator must register (a superuser is refused); nextval is granted, so only READ ONLY stops it.
    with pg_reader(f"{PG_BASE}/{name}", "GRANT USAGE, SELECT ON SEQUENCE tickets TO {role}") as url:
        yield url
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def maria_source():
    """A database and a user with a password that may do anything in it (so only READ ONLY stops a write)."""
    try:
        admin = pymysql.connect(**MARIA, connect_timeout=5, autocommit=True)
    except pymysql.err.OperationalError as e:
        if IN_CI:
            pytest.fail(f"MariaDB at 127.0.0.1:3306 is unreachable and CI=true: {e}")
        pytest.skip(f"MariaDB at 127.0.0.1:3306 is unreachable: {e}")
    tag = uuid.uuid4().hex[:10]
    name, user = f"src_{tag}", f"gl_{tag}"
    with admin.cursor() as c:
        c.execute(f"CREATE DATABASE {name}")
        c.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY {admin.escape(PASSWORD)}")
        c.execute(f"GRANT ALL ON {name}.* TO '{user}'@'%'")
        c.execute(f"CREATE TABLE {name}.loans (id int, amount decimal(10,2), holder text, approved boolean, note text,"
                  " opened date, seen datetime)")
        c.execute(f"INSERT INTO {name}.loans VALUES (1, 1200.50, 'Ada, \"the\" first', true, NULL, '2026-01-02',"
                  " '2026-01-02 03:04:05'), (2, 80, 'Bo', false, 'late', '2026-02-03', NULL)")
        c.execute(f"CREATE FUNCTION {name}.bump() RETURNS int MODIFIES SQL DATA"
                  f" BEGIN INSERT INTO {name}.loans (id) VALUES (99); RETURN 1; END")
    yield f"mysql://{user}:{quote(PASSWORD, safe='')}@127.0.0.1:3306/{name}"
    with admin.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    admin.close()


# -- queries -----------------------------------------------------------------------------------------------------


def test_a_postgresql_query_lands_as_csv_that_a_reader_types_back(pg_source, tmp_path):
    dest = tmp_path / "loans.csv"
    rows = fetch_query(pg_source, "SELECT * FROM loans ORDER BY id", dest, **LIMITS)
    assert rows == 2
    assert _rows(dest) == [["id", "amount", "holder", "approved", "note", "opened", "seen"],
                           ["1", "1200.50", 'Ada, "the" first', "true", "", "2026-01-02", "2026-01-02T03:04:05"],
                           ["2", "80.00", "Bo", "false", "late", "2026-02-03", ""]]


def test_a_mariadb_query_lands_as_csv_that_a_reader_types_back(maria_source, tmp_path):
    dest = tmp_path / "loans.csv"
    rows = fetch_query(maria_source, "-- the book\nSELECT * FROM loans ORDER BY id;", dest, **LIMITS)
    assert rows == 2
    # MariaDB has no boolean type: BOOLEAN is TINYINT(1), so it arrives as 1 and 0.
    assert _rows(dest) == [["id", "amount", "holder", "approved", "note", "opened", "seen"],
                           ["1", "1200.50", 'Ada, "the" first', "1", "", "2026-01-02", "2026-01-02T03:04:05"],
                           ["2", "80.00", "Bo", "0", "late", "2026-02-03", ""]]


def test_an_empty_result_is_a_header_only(pg_source, tmp_path):
    assert fetch_query(pg_source, "SELECT id FROM loans WHERE false", tmp_path / "none.csv", **LIMITS) == 0
    assert _rows(tmp_path / "none.csv") == [["id"]]


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_an_unreachable_server_is_source_unreachable(kind, tmp_path):
    dest = tmp_path / "x.csv"
    with pytest.raises(SourceUnreachable, match="cannot reach"):
        fetch_query(f"{kind}://u:{WRONG}@127.0.0.1:{free_port()}/db", "SELECT 1", dest, **LIMITS)
    assert not dest.exists()


def test_mariadb_refusing_the_stored_password_is_source_auth_failed(maria_source, tmp_path):
    wrong = maria_source.replace(quote(PASSWORD, safe=""), WRONG)
    with pytest.raises(SourceAuthFailed, match="refused the connection's credentials"):
        fetch_query(wrong, "SELECT 1", tmp_path / "x.csv", **LIMITS)
    assert not (tmp_path / "x.csv").exists()


def test_postgresql_refusing_the_stored_role_is_source_auth_failed(pg_source, tmp_path):
    url = re.sub(r"//[^@/]+@", f"//nobody_{uuid.uuid4().hex[:6]}:{WRONG}@", pg_source)
    with pytest.raises(SourceAuthFailed):
        fetch_query(url, "SELECT 1", tmp_path / "x.csv", **LIMITS)


def test_a_missing_database_is_source_not_found(pg_source, maria_source, tmp_path):
    with pytest.raises(SourceNotFound):
        fetch_query(f"{PG_BASE}/no_such_db_{uuid.uuid4().hex[:6]}", "SELECT 1", tmp_path / "x.csv", **LIMITS)
    with pytest.raises((SourceNotFound, SourceAuthFailed)):  # MariaDB says "access denied" to a user without it
        fetch_query(maria_source.rsplit("/", 1)[0] + "/no_such_db", "SELECT 1", tmp_path / "x.csv", **LIMITS)


@pytest.mark.parametrize("query", ["SELECT * FROM no_such_table", "SELECT FROM WHERE", "SELECT 1/0"])
@pytest.mark.parametrize("source", ["pg_source", "maria_source"])
def test_a_query_the_server_refuses_is_source_query_failed_and_leaves_no_file(request, source, query, tmp_path):
    if source == "maria_source" and query == "SELECT 1/0":
        pytest.skip("MariaDB answers NULL for a division by zero")
    dest = tmp_path / "x.csv"
    with pytest.raises(SourceQueryFailed, match="refused the query"):
        fetch_query(request.getfixturevalue(source), query, dest, **LIMITS)
    assert not dest.exists()


@pytest.mark.parametrize(("source", "query"), [("pg_source", "SELECT pg_sleep(3)"), ("maria_source", "SELECT SLEEP(3)")])
def test_a_query_running_past_its_timeout_is_source_timeout(request, source, query, tmp_path):
    dest = tmp_path / "x.csv"
    with pytest.raises(SourceTimeout, match="within 1 s"):
        fetch_query(request.getfixturevalue(source), query, dest, max_bytes=1000, timeout_s=1)
    assert not dest.exists()


@pytest.mark.parametrize(("source", "query", "count"), [
    ("pg_source", "SELECT nextval('tickets')", "SELECT last_value FROM tickets"),
    ("maria_source", "SELECT bump()", "SELECT count(*) FROM loans"),
])
def test_a_select_that_would_write_is_refused_by_the_read_only_transaction(request, source, query, count, tmp_path):
    url = request.getfixturevalue(source)
    with pytest.raises(SourceQueryFailed, match="writes, and a fetch only reads"):
        fetch_query(url, query, tmp_path / "x.csv", **LIMITS)
    assert not (tmp_path / "x.csv").exists()
    fetch_query(url, count, tmp_path / "count.csv", **LIMITS)
    assert _rows(tmp_path / "count.csv")[1] in (["1"], ["2"])  # a fresh sequence; the two rows, no third


def test_a_result_larger_than_the_bound_is_source_too_large_and_leaves_no_file(pg_source, tmp_path):
    dest = tmp_path / "big.csv"
    with pytest.raises(SourceTooLarge):
        fetch_query(pg_source, "SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g", dest, max_bytes=10_000, timeout_s=10)
    assert not dest.exists()


def test_a_fetch_never_writes_over_an_existing_file(pg_source, tmp_path):
    dest = tmp_path / "kept.csv"
    dest.write_text("mine")
    with pytest.raises(SourceInvalid, match="exists already"):
        fetch_query(pg_source, "SELECT 1", dest, **LIMITS)
    assert dest.read_text() == "mine"


@pytest.mark.parametrize("query", ["INSERT INTO loans VALUES (3)", "DELETE FROM loans", "SELECT 1; DROP TABLE loans",
                                   "", "  ", "/* SELECT */ UPDATE loans SET id = 1", "selected", "x" * 100_001])
def test_what_is_plainly_not_one_select_is_refused_before_anything_is_sent(query):
    with pytest.raises(SourceInvalid):
        check_query(query)


@pytest.mark.parametrize("query", ["SELECT 1", "select 1;", "  -- why\n/* note */ WITH t AS (SELECT 1) SELECT * FROM t",
                                   "SELECT\t*\nFROM loans"])
def test_one_select_or_with_statement_passes_the_cheap_check(query):
    check_query(query)


# -- the password never leaks -------------------------------------------------------------------------------------


def test_a_connection_password_appears_in_no_error_no_log_record_and_no_event(maria_source, sqlite_url, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    db = Database.from_url(sqlite_url)

    class _Gov(Governance, Sources):
        pass

    gov = _Gov(env=db.eventsourcing_env())
    gov.credentials = ConnectionCredentials(db, KEY)
    admin = gov.authenticate(gov.create_admin("root").api_key)
    wrong = maria_source.replace(quote(PASSWORD, safe=""), quote(WRONG, safe=""))
    gov.register_connection(admin, name="good", url=maria_source, idempotency_key="once")
    gov.register_connection(admin, name="bad", url=wrong)
    gov.create_user(admin, "dana", Role.DATA_SCIENTIST.value)
    with pytest.raises(Exception):  # noqa: B017  # a refusal, recorded
        gov.register_connection(gov.authenticate(gov.issue_api_key(admin, "dana", "t").api_key), name="x", url=maria_source)

    closed = maria_source.replace(":3306/", f":{free_port()}/")
    failures = [(gov.connection_url("bad"), "SELECT 1", SourceAuthFailed), (closed, "SELECT 1", SourceUnreachable),
                (gov.connection_url("good"), "SELECT * FROM nothing", SourceQueryFailed),
                (gov.connection_url("good"), "SELECT SLEEP(3)", SourceTimeout),
                (gov.connection_url("good"), "SELECT bump()", SourceQueryFailed),
                (gov.connection_url("good"), "SELECT * FROM loans", SourceTooLarge)]
    raised: list[SourceError] = []
    for url, query, expected in failures:
        with pytest.raises(expected) as failure:
            fetch_query(url, query, tmp_path / "x.csv", max_bytes=60, timeout_s=1)
        raised.append(failure.value)
    fetch_query(gov.connection_url("good"), "SELECT id FROM loans", tmp_path / "ok.csv", **LIMITS)

    secrets = [PASSWORD, quote(PASSWORD, safe=""), WRONG]
    texts = [e.message for e in raised] + ["".join(traceback.format_exception(e)) for e in raised]
    texts += [caplog.text] + [str(r.args) for r in caplog.records]
    events = [n.state for n in gov.recorder.select_notifications(start=1, limit=10_000)]
    for secret in secrets:
        assert not any(secret in text for text in texts), secret
        assert not any(secret.encode() in state for state in events), secret
        assert secret.encode() not in Path(db.path).read_bytes()
    assert "fetched 2 rows from mysql://127.0.0.1:3306/" in caplog.text


# -- the credential store -----------------------------------------------------------------------------------------


def test_the_credential_store_round_trips_and_its_column_holds_no_plaintext(db):
    store = ConnectionCredentials(db, KEY)
    ident = uuid.uuid4()
    url = f"postgresql://loader:{quote(PASSWORD, safe='')}@warehouse:5432/dw"
    store.put(ident, url)
    assert store.get(ident) == url
    with db.connect() as conn:
        (sealed,) = conn.execute("SELECT ciphertext FROM data_connections").fetchone()
    assert b"loader" not in bytes(sealed) and quote(PASSWORD, safe="").encode() not in bytes(sealed)
    store.put(ident, "mysql://other:pw@h/db")  # an unrecorded registration's row is replaced
    assert store.get(ident) == "mysql://other:pw@h/db"
    assert store.delete(ident) and not store.delete(ident)
    with pytest.raises(SourceNotFound):
        store.get(ident)


def test_the_service_role_keeps_replaces_and_destroys_credentials_on_postgresql(pg_url):
    store = ConnectionCredentials(Database.from_url(login_url(pg_url, "service")), KEY)
    ident = uuid.uuid4()
    store.put(ident, "mysql://u:pw@h/db")
    store.put(ident, "mysql://u:pw2@h/db")
    assert store.get(ident) == "mysql://u:pw2@h/db" and store.delete(ident)


def test_credentials_do_not_decrypt_under_another_key_nor_on_another_connection(db):
    first, second = uuid.uuid4(), uuid.uuid4()
    ConnectionCredentials(db, KEY).put(first, "mysql://u:pw@h/db")
    with pytest.raises(ConfigError, match="do not decrypt"):
        ConnectionCredentials(db, bytes(32)).get(first)
    with db.connect() as conn:  # a row copied onto another connection's id
        p = db.param()
        conn.execute(f"INSERT INTO data_connections SELECT {p}, ciphertext, created_at FROM data_connections", (str(second),))
        conn.commit()
    with pytest.raises(ConfigError, match="do not decrypt"):
        ConnectionCredentials(db, KEY).get(second)


def test_development_makes_the_connections_key_once_readable_by_its_owner_only(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    key = connections_key(settings)
    assert len(key) == 32 and connections_key(settings) == key
    assert stat.S_IMODE(os.stat(settings.connections_key_file).st_mode) == 0o600


def test_production_refuses_a_missing_a_malformed_or_an_open_connections_key(tmp_path):
    production = load_settings(data_dir=tmp_path, mode="production")
    with pytest.raises(ConfigError, match="GOVLEDGER_CONNECTIONS_KEY"):
        connections_key(production)
    assert not production.connections_key_file.exists()
    with pytest.raises(ConfigError, match="64 hex digits"):
        connections_key(load_settings(data_dir=tmp_path, mode="production", connections_key="changeme"))
    assert connections_key(load_settings(data_dir=tmp_path, mode="production", connections_key="ab" * 32)) == b"\xab" * 32
    connections_key(load_settings(data_dir=tmp_path))  # development makes the file
    production.connections_key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="open to other users"):
        connections_key(production)


# -- objects ------------------------------------------------------------------------------------------------------


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    name = f"src-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="2026/loans.csv", Body=b"id,amount\n1,12.5\n2,80\n")
    return name


def test_an_s3_object_is_fetched_as_it_is(bucket, s3_endpoint, tmp_path):
    dest = tmp_path / "loans.csv"
    assert fetch_object(f"s3://{bucket}/2026/loans.csv", dest, max_bytes=1000, endpoint_url=s3_endpoint, region=None) == 22
    assert dest.read_bytes() == b"id,amount\n1,12.5\n2,80\n"


@pytest.mark.parametrize("uri", ["s3://{bucket}/2026/missing.csv", "s3://no-such-bucket-{tag}/loans.csv"])
def test_a_missing_object_or_bucket_is_source_not_found(bucket, s3_endpoint, tmp_path, uri):
    dest = tmp_path / "x.csv"
    with pytest.raises(SourceNotFound):
        fetch_object(uri.format(bucket=bucket, tag=uuid.uuid4().hex[:8]), dest, max_bytes=1000, endpoint_url=s3_endpoint, region=None)
    assert not dest.exists()


def test_an_object_larger_than_the_bound_is_source_too_large(bucket, s3_endpoint, tmp_path):
    dest = tmp_path / "x.csv"
    with pytest.raises(SourceTooLarge, match="22 bytes, more than 21"):
        fetch_object(f"s3://{bucket}/2026/loans.csv", dest, max_bytes=21, endpoint_url=s3_endpoint, region=None)
    assert not dest.exists()


def test_an_unreachable_s3_endpoint_is_source_unreachable(tmp_path, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SourceUnreachable):
        fetch_object("s3://b/k.csv", tmp_path / "x.csv", max_bytes=10, endpoint_url=f"http://127.0.0.1:{free_port()}", region=None)


@pytest.mark.parametrize("uri", ["s3://bucket-only", "s3:///key.csv", "http://b/k.csv", "s3://b/k.csv?versionId=1"])
def test_a_malformed_object_uri_is_source_invalid(uri, tmp_path):
    with pytest.raises(SourceInvalid):
        fetch_object(uri, tmp_path / "x", max_bytes=10, endpoint_url=None, region=None)
