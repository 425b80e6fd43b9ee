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


def check_registration(name: str, source: str, schema: Any, row_count: Any, content_hash: str) -> None:
    check_text(name, "a dataset's name", max_length=200)
    check_text(source, "a dataset's source (a file, query or object URL)", max_length=2_000)
    check_schema(schema)
    if not isinstance(row_count, int) or isinstance(row_count, bool) or not 0 <= row_count <= INT64_MAX:
        raise InvalidInput(f"row count must be an integer from 0 to {INT64_MAX}")
    if not isinstance(content_hash, str) or not _SHA256.match(content_hash):
        raise InvalidInput("content hash must be 64 lowercase hex digits (SHA-256)")


class Dataset(Aggregate):
    """A registered dataset. Its content hash pins exactly which bytes a model saw."""

    @event("Registered")
    def __init__(self, name: str, source: str, schema: dict[str, str], row_count: int, content_hash: str, registered_by: str) -> None:
        self.name = name
        self.source = source
        self.schema = schema
        self.row_count = row_count
        self.content_hash = content_hash
        self.registered_by = registered_by

    @classmethod
    def register(cls, *, name: str, source: str, schema: dict[str, str], row_count: int, content_hash: str, registered_by: str) -> Dataset:
        check_registration(name, source, schema, row_count, content_hash)
        return cls(name, source, dict(schema), row_count, content_hash, registered_by)
