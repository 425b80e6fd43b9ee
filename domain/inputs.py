"""What the stores can hold: every value an event carries is checked here before it is saved.

Events are stored as UTF-8 JSON on SQLite and PostgreSQL and projected into columns of both, so an
integer outside int64, a float that is not finite, text that is not valid Unicode (a lone surrogate)
or holds NUL, an oversize string and an oversize collection are refused as invalid input instead of
reaching a store that cannot hold them (or a projector that would stop on them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from .errors import InvalidInput, printable

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_TEXT = 20_000  # characters in any one string of an event (a compliance section is the longest)
MAX_ITEMS = 1_000  # entries in any one list or mapping of an event (a dataset schema is the widest)
MAX_DEPTH = 8


def check_text(value: Any, what: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    """A string of at most `max_length` characters, valid Unicode without NUL; non-blank unless not required."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{what} may not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    _check_string(value, what)
    return value


def _check_string(value: str, what: str) -> None:
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None


def check_value(value: Any, where: str, depth: int = 0) -> None:
    """Raise InvalidInput unless `value`, recursively, is something the stores can hold."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, UUID, datetime, Enum)):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidInput(f"{where} is outside the 64-bit integer range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where} must be a finite number")
    elif isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"{where} is longer than {MAX_TEXT} characters")
        _check_string(value, where)
    elif isinstance(value, Mapping):
        _check_size(value, where)
        for key, item in value.items():
            check_value(key, f"{where} (a key)", depth + 1)
            check_value(item, f"{where}.{printable(key, 64)}", depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        _check_size(value, where)
        for index, item in enumerate(value):
            check_value(item, f"{where}[{index}]", depth + 1)
    else:
        raise InvalidInput(f"{where} has a type the ledger does not store ({type(value).__name__})")


def _check_size(items: Iterable[Any] | Mapping[Any, Any], where: str) -> None:
    if len(items) > MAX_ITEMS:  # type: ignore[arg-type]
        raise InvalidInput(f"{where} has more than {MAX_ITEMS} entries")


#: fields every event has, set by the library (ids, versions, timestamps), not by callers
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def check_events(events: Iterable[Any]) -> None:
    """Check every field of every pending event, before anything is saved."""
    for event in events:
        for name, value in vars(event).items():
            if name not in _ENVELOPE:
                check_value(value, name)
