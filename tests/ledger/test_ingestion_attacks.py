"""Attacks on ingestion from a hostile or careless data scientist: odd CSVs and queries that try to write.

Each test is named after the attack; the ones that held are kept as cheap guards against regressions."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pymysql
import pytest

from ledger.sources import SourceInvalid, check_query, fetch_query
from ml.errors import InvalidDataset
from ml.preprocess import EpochDays
from ml.tabular import infer_schema, profile, read_csv
from tests.conftest import IN_CI

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


@pytest.fixture
def maria_file_user():
    """A MariaDB user with the FILE privilege (which an administrator might well grant a reporting account)."""
    try:
        admin = pymysql.connect(**MARIA, connect_timeout=5, autocommit=True)
    except pymysql.err.OperationalError as e:
        if IN_CI:
            pytest.fail(f"MariaDB at 127.0.0.1:3306 is unreachable and CI=true: {e}")
        pytest.skip(f"MariaDB at 127.0.0.1:3306 is unreachable: {e}")
    tag = uuid.uuid4().hex[:10]
    name, user, password = f"src_{tag}", f"gl_{tag}", "File-pw:1"
    with admin.cursor() as c:
        c.execute(f"CREATE DATABASE {name}")
        c.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY {admin.escape(password)}")
        c.execute(f"GRANT ALL ON {name}.* TO '{user}'@'%'")
        c.execute(f"GRANT FILE ON *.* TO '{user}'@'%'")
    yield f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:3306/{name}", tag
    with admin.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    admin.close()


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
