"""Attacks on ingestion from a hostile or careless data scientist: odd CSVs, queries that try to write, and queries
through a privileged database role that a READ ONLY transaction does not bound.

Each test is named after the attack; the ones that held are kept as cheap guards against regressions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import psycopg
import pymysql
import pytest

from ledger.sources import SourceInvalid, SourcePrivileged, check_query, fetch_query
from ml.errors import InvalidDataset
from ml.preprocess import EpochDays
from ml.tabular import infer_schema, profile, read_csv
from tests.conftest import IN_CI, pg_reader

MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
LIMITS = {"max_bytes": 1_000_000, "timeout_s": 10}


def _csv(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    return path


# -- CSVs ----------------------------------------------------------------------------------------------------------


def test_dates_at_the_ends_of_the_calendar_are_profiled_not_a_server_error(tmp_path):
    # Year 9999 and year 1 are valid ISO dates that pandas keeps at microsecond resolution; subtracting a nanosecond
    # epoch from them overflowed, and an upload of such a column was a 500.
    frame = read_csv(_csv(tmp_path, b"opened,y\n9999-12-31,1\n0001-01-01,0\n2026-01-02,1\n"), max_bytes=10_000)
    schema = infer_schema(frame)
    assert schema["opened"] == "datetime"
    column = profile(frame, schema)["opened"]
    assert column["min"] == pytest.approx(-719162.0, rel=1e-5) and column["max"] == pytest.approx(2932896.0, rel=1e-5)


def test_a_trained_pipeline_turns_far_dates_into_days_instead_of_failing():
    days = EpochDays().fit_transform(pd.DataFrame({"d": ["9999-12-31", "1970-01-02", "not a date"]}))
    assert days[0, 0] == pytest.approx(2932896.0) and days[1, 0] == pytest.approx(1.0) and np.isnan(days[2, 0])


def test_a_csv_saved_by_excel_with_a_byte_order_mark_reads_its_first_column_by_its_name(tmp_path):
    # Excel's "CSV UTF-8" starts with U+FEFF; it was refused as a column named '\ufeffa'.
    frame = read_csv(_csv(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n3,4\n"), max_bytes=10_000)
    assert list(frame.columns) == ["a", "b"]


@pytest.mark.parametrize(("content", "words"), [
    (b"a,b\r1,2\r3,4\r", "line 1"),                       # CR-only line endings: one long line, refused by name
    (b"a,a\n1,2\n", "twice"),                             # duplicate headers
    (b'"DROP TABLE x;--",b\n1,2\n', "identifier"),        # a column named like SQL
    ("\u00e4,b\n1,2\n".encode(), "identifier"),           # a non-ASCII column name
    (b"a\x00,b\n1,2\n", "NUL"),                           # NUL in the header
    (b"a,b\n\xed\xa0\x80,2\n", "UTF-8"),                  # an encoded lone surrogate
    (b"," * 100_000 + b"\n", "at most 1000"),             # a billion commas, in miniature
    (b"a,b\n", "no rows"),                                # header only
    (b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),              # not a CSV at all
])
def test_a_hostile_csv_is_refused_naming_why(tmp_path, content, words):
    with pytest.raises(InvalidDataset, match=words):
        read_csv(_csv(tmp_path, content), max_bytes=1_000_000)


def test_numbers_beyond_int64_or_float_range_and_nan_strings_profile_as_json_safe_values(tmp_path):
    frame = read_csv(_csv(tmp_path, b"big,huge,odd\n99999999999999999999999,1e400,NaN\n1,2,inf\n"), max_bytes=10_000)
    schema = infer_schema(frame)
    stats = profile(frame, schema)
    for column in stats.values():  # no inf, no NaN: the profile goes into an event and a JSON answer
        for value in column.values():
            assert not (isinstance(value, float) and not np.isfinite(value))


# -- queries that try to write ----------------------------------------------------------------------------------


def _maria_admin() -> pymysql.Connection:
    try:
        return pymysql.connect(**MARIA, connect_timeout=5, autocommit=True)
    except pymysql.err.OperationalError as e:
        if IN_CI:
            pytest.fail(f"MariaDB at 127.0.0.1:3306 is unreachable and CI=true: {e}")
        pytest.skip(f"MariaDB at 127.0.0.1:3306 is unreachable: {e}")


@contextmanager
def _maria_user(*grants: str) -> Iterator[tuple[str, str]]:
    """A MariaDB database, and a user with a password who may do anything in it and what `grants` add ({user} is its
    account, {role} a role of the same tag, dropped after): its URL and the tag."""
    admin = _maria_admin()
    tag = uuid.uuid4().hex[:10]
    name, user, role, password = f"src_{tag}", f"gl_{tag}", f"gl_role_{tag}", "File-pw:1"
    try:
        with admin.cursor() as c:
            c.execute(f"CREATE DATABASE {name}")
            c.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY {admin.escape(password)}")
            c.execute(f"GRANT ALL ON {name}.* TO '{user}'@'%'")
            for grant in grants:
                c.execute(grant.format(user=f"'{user}'@'%'", role=role))
        yield f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:3306/{name}", tag
    finally:
        with admin.cursor() as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            c.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


@pytest.fixture
def maria_file_user():
    """A MariaDB user with the FILE privilege (which an administrator might well grant a reporting account)."""
    with _maria_user("GRANT FILE ON *.* TO {user}") as user:
        yield user


@pytest.mark.parametrize("template", [
    "SELECT 1 INTO OUTFILE '{path}'",
    "SELECT 1 INTO DUMPFILE '{path}'",
    "SELECT 1 /*! INTO OUTFILE '{path}' */",
    "SELECT 1 into/**/outfile '{path}'",
])
def test_a_mysql_select_into_outfile_writes_no_file_on_the_source_server(maria_file_user, tmp_path, template):
    # READ ONLY transactions do not stop MariaDB writing a file: the query itself must be refused.
    url, tag = maria_file_user
    target = Path(f"/tmp/govledger-attack-{tag}")
    try:
        with pytest.raises(SourceInvalid, match="OUTFILE"):
            fetch_query(url, template.format(path=target), tmp_path / "x.csv", **LIMITS)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("query", [
    "SELECT 1 /* ; */ ; DROP TABLE loans",
    "WITH d AS (DELETE FROM loans RETURNING *) SELECT * FROM d; SELECT 1",
    "SET default_transaction_read_only = off",
    "COPY (SELECT 1) TO '/tmp/x'",
    "-- SELECT\nDELETE FROM loans",
])
def test_statements_that_are_not_one_select_are_refused_before_connecting(query):
    with pytest.raises(SourceInvalid):
        check_query(query)


# -- privileged roles: READ ONLY bounds writes to tables, not what a superuser or a FILE user may do ----------------


def test_a_postgresql_superuser_connection_is_refused_before_the_query_runs(pg_url, tmp_path):
    # Through a superuser, this query ended another session and returned the server's /etc/hostname.
    attack = ("SELECT pg_terminate_backend(pid), pg_read_file('/etc/hostname') FROM pg_stat_activity"
              " WHERE application_name = 'gl-victim'")
    with psycopg.connect(pg_url, application_name="gl-victim", autocommit=True) as victim:
        with pytest.raises(SourcePrivileged, match=r"connects as \w+, which is a superuser: .* least-privileged"):
            fetch_query(pg_url, attack, tmp_path / "x.csv", **LIMITS)
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still alive: the query never ran
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("path", ["directly", "through a group", "through a NOINHERIT group"])
def test_a_role_that_may_read_server_files_is_refused(pg_url, tmp_path, path):
    # A NOINHERIT group cannot use pg_read_file itself, but set_config('role', …) inside a SELECT can become it.
    group = f"gl_group_{uuid.uuid4().hex[:10]}"
    inherit = "NOINHERIT" if "NOINHERIT" in path else "INHERIT"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {group} NOLOGIN {inherit} IN ROLE pg_read_server_files")
    try:
        member = "pg_read_server_files" if path == "directly" else group
        with pg_reader(pg_url, f"GRANT {member} TO {{role}}") as url:
            with pytest.raises(SourcePrivileged, match=r"gl_reader_\w+, which is a member of pg_read_server_files"):
                fetch_query(url, "SELECT pg_read_file('/etc/hostname')", tmp_path / "x.csv", **LIMITS)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {group}")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("granted", ["pg_write_server_files", "pg_execute_server_program", "pg_signal_backend"])
def test_a_role_that_may_write_server_files_run_programs_or_end_sessions_is_refused(pg_url, tmp_path, granted):
    with pg_reader(pg_url, f"GRANT {granted} TO {{role}}") as url:
        with pytest.raises(SourcePrivileged, match=f"is a member of {granted}"):
            fetch_query(url, "SELECT 1", tmp_path / "x.csv", **LIMITS)


def test_a_role_that_may_become_a_superuser_is_refused(pg_url, tmp_path):
    # Not a superuser itself, but SET ROLE (or set_config('role', …) in the SELECT) would make it one.
    with psycopg.connect(pg_url) as conn:
        superuser = conn.execute("SELECT current_user").fetchone()[0]
    with pg_reader(pg_url, f'GRANT "{superuser}" TO {{role}}') as url:
        with pytest.raises(SourcePrivileged, match=f"may become the superuser {superuser}"):
            fetch_query(url, "SELECT 1", tmp_path / "x.csv", **LIMITS)


def test_a_least_privileged_postgresql_reader_is_not_refused(pg_url, tmp_path):
    with pg_reader(pg_url) as url:
        assert fetch_query(url, "SELECT current_user AS who", tmp_path / "x.csv", **LIMITS) == 1


def test_a_mariadb_user_with_the_file_privilege_is_refused(maria_file_user, tmp_path):
    # With FILE, LOAD_FILE('/etc/passwd') returned the server's file inside a READ ONLY transaction.
    url, tag = maria_file_user
    with pytest.raises(SourcePrivileged, match=f"connects as 'gl_{tag}'@'%', which holds the global FILE privilege"):
        fetch_query(url, "SELECT LOAD_FILE('/etc/passwd')", tmp_path / "x.csv", **LIMITS)
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(("grants", "words"), [
    (["GRANT PROCESS ON *.* TO {user}"], "PROCESS"),     # every session's statements, in the process list
    (["GRANT SUPER ON *.* TO {user}"], "SUPER"),
    (["GRANT SHUTDOWN ON *.* TO {user}"], "SHUTDOWN"),
    (["GRANT ALL PRIVILEGES ON *.* TO {user}"], "FILE, PROCESS, SHUTDOWN, SUPER privileges"),
    (["CREATE ROLE {role}", "GRANT FILE ON *.* TO {role}", "GRANT {role} TO {user}",  # a default role's FILE is
      "SET DEFAULT ROLE {role} FOR {user}"], "FILE"),                                   # not in USER_PRIVILEGES
])
def test_a_mariadb_user_with_a_global_administrative_privilege_is_refused(tmp_path, grants, words):
    with _maria_user(*grants) as (url, _):
        with pytest.raises(SourcePrivileged, match=words):
            fetch_query(url, "SELECT 1", tmp_path / "x.csv", **LIMITS)


def test_a_mariadb_root_connection_is_refused_and_takes_no_lock(tmp_path):
    lock = f"govledger-attack-{uuid.uuid4().hex[:8]}"
    with _maria_admin() as admin:
        with pytest.raises(SourcePrivileged, match="which is root"):
            fetch_query("mysql://root@127.0.0.1:3306/mysql", f"SELECT GET_LOCK('{lock}', 0), SLEEP(2)",
                        tmp_path / "x.csv", **LIMITS)
        with admin.cursor() as c:
            c.execute("SELECT IS_FREE_LOCK(%s)", (lock,))
            assert c.fetchone() == (1,)


def test_a_least_privileged_mariadb_reader_is_not_refused(tmp_path):
    with _maria_user() as (url, _):
        assert fetch_query(url, "SELECT CURRENT_USER() AS who", tmp_path / "x.csv", **LIMITS) == 1
