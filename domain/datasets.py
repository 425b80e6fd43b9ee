"""Datasets: what a model was trained or validated on, identified by the SHA-256 of its content."""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import Aggregate, event

from .errors import InvalidInput
from .inputs import INT64_MAX, MAX_ITEMS, check_text

COLUMN_TYPES = frozenset({"integer", "float", "string", "boolean", "category", "datetime"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


#: Columns in one schema: wide enough for ordinary tabular data, small enough to keep the event small.
MAX_COLUMNS = MAX_ITEMS


def check_schema(schema: Any) -> dict[str, str]:
    """A schema is a non-empty mapping of at most MAX_COLUMNS column names to one of COLUMN_TYPES."""
    if not isinstance(schema, dict) or not schema:
        raise InvalidInput("a dataset schema must be a non-empty mapping of column name to type")
    if len(schema) > MAX_COLUMNS:
        raise InvalidInput(f"a schema has at most {MAX_COLUMNS} columns, not {len(schema)}")
    for column, kind in schema.items():
        if not isinstance(column, str) or not _NAME.match(column):
            raise InvalidInput(f"column name {column!r} must be an identifier of at most 64 characters")
        if kind not in COLUMN_TYPES:
            raise InvalidInput(f"column {column!r} has type {kind!r}; expected one of {', '.join(sorted(COLUMN_TYPES))}")
    return dict(schema)


#: How a dataset arrived: a CSV upload, a file the operator named, a query on a registered connection, an S3 object.
SOURCE_KINDS = frozenset({"upload", "file", "query", "s3"})


def check_profile(profile: Any, schema: dict[str, str]) -> dict[str, Any]:
    """A profile describes each column of the schema, and nothing else."""
    if not isinstance(profile, dict) or set(profile) != set(schema):
        raise InvalidInput("a dataset's profile describes exactly the columns of its schema")
    if not all(isinstance(stats, dict) for stats in profile.values()):
        raise InvalidInput("a dataset's profile maps each column to its statistics")
    return dict(profile)


def check_registration(name: str, source: str, schema: Any, row_count: Any, content_hash: str) -> None:
    check_text(name, "a dataset's name", max_length=200)
    if not name.isprintable():  # control and bidirectional-override characters redraw a terminal or a report
        raise InvalidInput("a dataset's name may hold only printable characters")
    check_text(source, "a dataset's source (a file, query or object URL)", max_length=2_000)
    check_schema(schema)
    if not isinstance(row_count, int) or isinstance(row_count, bool) or not 0 <= row_count <= INT64_MAX:
        raise InvalidInput(f"row count must be an integer from 0 to {INT64_MAX}")
    if not isinstance(content_hash, str) or not _SHA256.match(content_hash):
        raise InvalidInput("content hash must be 64 lowercase hex digits (SHA-256)")


class Dataset(Aggregate):
    """A registered dataset. Its content hash pins exactly which bytes a model saw."""

    @event("Registered")
    def __init__(self, name: str, source: str, schema: dict[str, str], row_count: int, content_hash: str, registered_by: str,
                 source_kind: str | None = None, profile: dict[str, Any] | None = None, snapshot: bool = False) -> None:
        self.name = name
        self.source = source
        self.schema = schema
        self.row_count = row_count
        self.content_hash = content_hash
        self.registered_by = registered_by
        self.source_kind = source_kind
        self.profile = profile
        # True when the bytes the hash names are kept in the artifact store, so a job can train on exactly them.
        self.snapshot = snapshot

    @classmethod
    def register(cls, *, name: str, source: str, schema: dict[str, str], row_count: int, content_hash: str, registered_by: str,
                 source_kind: str | None = None, profile: dict[str, Any] | None = None, snapshot: bool = False) -> Dataset:
        check_registration(name, source, schema, row_count, content_hash)
        if source_kind is not None and source_kind not in SOURCE_KINDS:
            raise InvalidInput(f"a dataset's source kind is one of {', '.join(sorted(SOURCE_KINDS))}")
        if profile is not None:
            profile = check_profile(profile, schema)
        return cls(name, source, dict(schema), row_count, content_hash, registered_by, source_kind, profile, bool(snapshot))
