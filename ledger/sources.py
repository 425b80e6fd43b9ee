"""Fetching a dataset from where it lives into a local file: a query on PostgreSQL or MySQL/MariaDB, written as CSV,
or an object on S3, copied as it is.

Every fetch is bounded (bytes, time), reads only (a READ ONLY transaction; a cheap check refuses what is plainly
not one SELECT; a role privileged beyond reading rows is refused before the query runs: ledger/source_roles.py), streams (a server-side cursor, an object body in chunks), and leaves nothing behind when it fails.
A connection URL holds a password: no message, log record or exception chain raised from here holds it, because
driver text is scrubbed and driver exceptions are not chained (`from None`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from uuid import UUID

from .errors import LedgerError
from .source_roles import mysql_privileges, postgresql_privileges

__all__ = [
    "SourceAuthFailed", "SourceError", "SourceInvalid", "SourceNotFound", "SourcePrivileged", "SourceQueryFailed",
    "SourceTimeout", "SourceTooLarge", "SourceUnreachable", "fetch_object", "fetch_query",
]

log = logging.getLogger("govledger.sources")

CONNECT_TIMEOUT_S = 5
BATCH_ROWS = 1_000
CHUNK_BYTES = 1024 * 1024
MAX_QUERY_CHARS = 100_000


class SourceError(LedgerError):
    """A dataset could not be fetched. The API answers each code with the status in api/errors.py."""

    code = "source_error"


class SourceUnreachable(SourceError):
    """The source's server did not answer (502): nothing the caller sent is wrong; try again later."""

    code = "source_unreachable"


class SourceAuthFailed(SourceError):
    """The source refused the credentials stored with the connection (502, not 401/403: the caller's own
    credentials are fine; the connection must be registered again with working ones)."""

    code = "source_auth_failed"


class SourceQueryFailed(SourceError):
    """The source ran the query and refused it: a syntax error, a missing table, a write in a read-only fetch (422)."""

    code = "source_query_failed"


class SourceTimeout(SourceError):
    code = "source_timeout"  # 504


class SourceNotFound(SourceError):
    """No such object, bucket, database or connection (404)."""

    code = "source_not_found"


class SourceTooLarge(SourceError):
    code = "source_too_large"  # 413


class SourcePrivileged(SourceError):
    """The connection's database role may do more than read rows (a superuser, a reader of the server's files):
    READ ONLY does not bound such a role, so no query runs through it (422; register a least-privileged role)."""

    code = "source_privileged"


class SourceInvalid(SourceError):
    """A malformed source URI or a query that is not one SELECT (422); nothing was sent anywhere."""

    code = "source_invalid"


# -- queries -------------------------------------------------------------------------------------------------------

_COMMENTS = re.compile(r"\s+|--[^\n]*(\n|$)|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"^(select|with)\b", re.IGNORECASE)
_KINDS = {"postgresql": 5432, "mysql": 3306}
#: MySQL and MariaDB write files from a SELECT (INTO OUTFILE / DUMPFILE) even in a READ ONLY transaction, with the
#: connection's FILE privilege, and run /*! … */ comments as code; so the words are refused wherever they appear.
_MYSQL_WRITES_FILE = re.compile(r"outfile|dumpfile", re.IGNORECASE)


def check_query(query: str) -> str:
    """One SELECT or WITH statement (a trailing ';' allowed). Cheap, so it refuses a ';' inside a literal too; the
    READ ONLY transaction, not this, is what keeps a fetch from writing."""
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS or "\x00" in query:
        raise SourceInvalid(f"a query is non-empty text of at most {MAX_QUERY_CHARS} characters")
    body = query.strip().removesuffix(";")
    start = 0
    while match := _COMMENTS.match(body, start):
        if match.end() == start:
            break
        start = match.end()
    if not _FIRST_WORD.match(body[start:]):
        raise SourceInvalid("a source query is one SELECT (or WITH … SELECT) statement")
    if ";" in body:
        raise SourceInvalid("a source query is one statement: remove the ';' inside it")
    return body


class _Url:
    """A connection URL's parts, and a scrubber for any text that might repeat its password."""

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            self.port = parts.port or _KINDS.get(parts.scheme, 0)
        except ValueError:
            raise SourceInvalid("a connection URL is postgresql://… or mysql://USER:PASSWORD@HOST:PORT/DATABASE") from None
        self.kind, self.host = parts.scheme, parts.hostname or ""
        self.user, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        self.database = unquote(parts.path.removeprefix("/"))
        self.options = dict(parse_qsl(parts.query))
        if self.kind not in _KINDS or not self.host or not self.database:
            raise SourceInvalid("a connection URL is postgresql://… or mysql://USER:PASSWORD@HOST:PORT/DATABASE")
        self._secrets = [s for s in {self.password, parts.password or "", quote(self.password, safe="")} if s]

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text[:500]

    @property
    def where(self) -> str:
        return f"{self.kind}://{self.host}:{self.port}/{self.database}"


def _csv_value(value: Any) -> Any:
    """As a CSV reader that infers types reads it back: numbers bare, NULL empty, booleans true/false, times ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, str)):
        return value
    if isinstance(value, (datetime, date, clock)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if isinstance(value, UUID):
        return str(value)
    return str(value)


@contextmanager
def _new_file(dest: Path) -> Iterator[BinaryIO]:
    """`dest`, created new; removed again if anything fails before it is complete."""
    try:
        f = open(dest, "xb")  # noqa: SIM115  # closed below, before an unlink
    except FileExistsError:
        raise SourceInvalid(f"{dest} exists already; a fetch never writes over a file") from None
    try:
        with f:
            yield f
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _write_csv(out: BinaryIO, header: list[str], batches: Callable[[], list[tuple[Any, ...]]], *, max_bytes: int,
               deadline: float, timeout_s: float) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    written, rows = 0, 0
    while True:
        batch = batches()
        for row in batch:
            writer.writerow([_csv_value(v) for v in row])
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        written += len(data)
        if written > max_bytes:
            raise SourceTooLarge(f"the query's result is larger than {max_bytes} bytes")
        out.write(data)
        rows += len(batch)
        if not batch:
            return rows
        if time.monotonic() > deadline:  # the statement timeout bounds each fetch; this bounds them all
            raise SourceTimeout(f"the query did not finish within {timeout_s:g} s")


def fetch_query(url: str, query: str, dest: Path, *, max_bytes: int, timeout_s: float) -> int:
    """Run `query` read-only on the database of `url` and write its rows as CSV to `dest` (new); the rows written."""
    body = check_query(query)
    source = _Url(url)
    if not 0 < timeout_s <= 86_400 or max_bytes <= 0:
        raise SourceInvalid("a fetch needs a timeout from 0 to 86400 s and a positive size bound")
    if source.kind == "mysql" and _MYSQL_WRITES_FILE.search(body):
        raise SourceInvalid("a source query may not write a file (SELECT … INTO OUTFILE or DUMPFILE)")
    run = _fetch_postgresql if source.kind == "postgresql" else _fetch_mysql
    with _new_file(dest) as out:
        rows = run(source, body, out, max_bytes=max_bytes, timeout_s=timeout_s)
    log.info("fetched %d rows from %s", rows, source.where)
    return rows


def _fetch_postgresql(source: _Url, query: str, out: BinaryIO, *, max_bytes: int, timeout_s: float) -> int:
    import psycopg

    try:
        conn = psycopg.connect(host=source.host, port=source.port, user=source.user or None,
                               password=source.password or None, dbname=source.database, application_name="govledger-fetch",
                               connect_timeout=CONNECT_TIMEOUT_S, sslmode=source.options.get("sslmode", "prefer"))
    except psycopg.Error as e:
        raise _pg_connect_error(source, e) from None
    try:
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}")
        _refuse_privileged(source, *postgresql_privileges(conn))
        with conn.cursor(name="govledger_fetch") as cursor:  # server-side: rows arrive batch by batch
            cursor.execute(query)
            header = [column.name for column in cursor.description or []]
            return _write_csv(out, header, lambda: cursor.fetchmany(BATCH_ROWS), max_bytes=max_bytes,
                              deadline=time.monotonic() + timeout_s, timeout_s=timeout_s)
    except psycopg.Error as e:
        raise _pg_query_error(source, e, timeout_s) from None
    finally:
        conn.close()  # never committed: the transaction was read-only anyway


def _refuse_privileged(source: _Url, role: str, reasons: list[str]) -> None:
    if reasons:
        raise SourcePrivileged(source.scrub(
            f"{source.where} connects as {role}, which {' and '.join(reasons)}: a dataset query runs only through a "
            "least-privileged, read-only role (docs/operations.md, \"Data connections\")"))


def _pg_connect_error(source: _Url, e: Exception) -> SourceError:
    # libpq reports connection failures as text without a SQLSTATE; its wording is stable across versions.
    text = source.scrub(str(e))
    if "password authentication failed" in text or re.search(r'role ".*" does not exist', text):
        return SourceAuthFailed(f"{source.where} refused the connection's credentials")
    if re.search(r'database ".*" does not exist', text):
        return SourceNotFound(f"{source.where}: no such database")
    return SourceUnreachable(f"cannot reach {source.where}: {text.strip().splitlines()[-1]}")


def _pg_query_error(source: _Url, e: Any, timeout_s: float) -> SourceError:
    state = getattr(e, "sqlstate", None) or ""
    diag = getattr(e, "diag", None)
    text = source.scrub((diag and diag.message_primary) or type(e).__name__)  # not str(e): it quotes the query
    if state == "57014":
        return SourceTimeout(f"the query did not finish within {timeout_s:g} s")
    if state == "25006":
        return SourceQueryFailed(f"the query writes, and a fetch only reads: {text}")
    if state.startswith("08") or not state:
        return SourceUnreachable(f"lost {source.where}: {text}")
    if state.startswith("28") or state == "42501":
        return SourceAuthFailed(f"{source.where} refused the connection's user: {text}")
    return SourceQueryFailed(f"{source.where} refused the query: {text}")


#: MySQL/MariaDB error numbers (client 2xxx, server 1xxx) that say what went wrong.
_MYSQL_AUTH = {1044, 1045, 1142, 1143, 1227, 1698}
_MYSQL_UNREACHABLE = {2002, 2003, 2005, 2006, 2013, 2055}
_MYSQL_TIMEOUT = {1969, 3024}  # MariaDB's max_statement_time, MySQL's max_execution_time


def _fetch_mysql(source: _Url, query: str, out: BinaryIO, *, max_bytes: int, timeout_s: float) -> int:
    import pymysql
    from pymysql.cursors import SSCursor

    try:
        conn = pymysql.connect(host=source.host, port=source.port, user=source.user or None, password=source.password,
                               database=source.database, connect_timeout=CONNECT_TIMEOUT_S, charset="utf8mb4",
                               read_timeout=timeout_s + CONNECT_TIMEOUT_S, write_timeout=CONNECT_TIMEOUT_S)
    except pymysql.Error as e:
        raise _mysql_error(source, e, timeout_s) from None
    try:
        with conn.cursor() as setup:
            try:
                setup.execute(f"SET SESSION max_statement_time = {timeout_s:.3f}")  # MariaDB: seconds
            except pymysql.err.OperationalError:  # MySQL names it otherwise, in milliseconds
                setup.execute(f"SET SESSION max_execution_time = {max(1, round(timeout_s * 1000))}")
            setup.execute("START TRANSACTION READ ONLY")
            _refuse_privileged(source, *mysql_privileges(setup))
        with conn.cursor(SSCursor) as cursor:  # unbuffered: rows arrive as they are read
            cursor.execute(query)
            header = [column[0] for column in cursor.description or []]
            return _write_csv(out, header, lambda: list(cursor.fetchmany(BATCH_ROWS)), max_bytes=max_bytes,
                              deadline=time.monotonic() + timeout_s, timeout_s=timeout_s)
    except pymysql.Error as e:
        raise _mysql_error(source, e, timeout_s) from None
    finally:
        conn.close()


def _mysql_error(source: _Url, e: Exception, timeout_s: float) -> SourceError:
    number = e.args[0] if e.args and isinstance(e.args[0], int) else None
    text = source.scrub(str(e.args[1]) if len(e.args) > 1 else type(e).__name__)
    if number in _MYSQL_AUTH:
        return SourceAuthFailed(f"{source.where} refused the connection's credentials")
    if number == 1049:
        return SourceNotFound(f"{source.where}: no such database")
    if number in _MYSQL_TIMEOUT:
        return SourceTimeout(f"the query did not finish within {timeout_s:g} s")
    if number == 1792:
        return SourceQueryFailed(f"the query writes, and a fetch only reads: {text}")
    if number in _MYSQL_UNREACHABLE or number is None:
        return SourceUnreachable(f"cannot reach {source.where}: {text}")
    return SourceQueryFailed(f"{source.where} refused the query: {text}")


# -- objects -------------------------------------------------------------------------------------------------------


def _parse_object(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri) if isinstance(uri, str) else None
    key = parts.path.lstrip("/") if parts else ""
    if parts is None or parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise SourceInvalid("an object source is s3://BUCKET/KEY")
    return parts.netloc, key


def fetch_object(uri: str, dest: Path, *, max_bytes: int, endpoint_url: str | None, region: str | None) -> int:
    """Copy the object `uri` (s3://BUCKET/KEY) to `dest` (new); the bytes written. Credentials: the AWS chain."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    from .s3 import client

    bucket, key = _parse_object(uri)
    where = f"s3://{bucket}/{key}"
    s3 = client(endpoint_url, region)
    try:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > max_bytes:
            raise SourceTooLarge(f"{where} is {size} bytes, more than {max_bytes}")
        with _new_file(dest) as out:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            written = 0
            for chunk in body.iter_chunks(CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:  # the object may have grown since the HEAD
                    raise SourceTooLarge(f"{where} is more than {max_bytes} bytes")
                out.write(chunk)
    except ClientError as e:
        raise _s3_error(where, bucket, e) from None
    except NoCredentialsError:
        raise SourceAuthFailed(f"no AWS credentials to read {where}") from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise SourceTimeout(f"{where} did not arrive in time") from None
    except BotoCoreError as e:
        raise SourceUnreachable(f"cannot reach the S3 endpoint for {where}: {type(e).__name__}") from None
    log.info("fetched %d bytes from %s", written, where)
    return written


def _s3_error(where: str, bucket: str, e: Any) -> SourceError:
    code = str(e.response.get("Error", {}).get("Code", ""))
    if code in ("404", "NoSuchKey", "NotFound"):
        return SourceNotFound(f"no object {where} (or no bucket {bucket})")
    if code == "NoSuchBucket":
        return SourceNotFound(f"no bucket {bucket}")
    if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return SourceAuthFailed(f"S3 refused the credentials for {where}")
    return SourceUnreachable(f"S3 could not serve {where}: {code or 'error'}")
