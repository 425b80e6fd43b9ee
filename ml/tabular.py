"""Tabular data: a strict CSV reader, schema inference and a compact, JSON-safe profile.

The reader validates the file in one streaming pass with the csv module before pandas sees it,
because pandas pads short rows and guesses encodings silently; a refusal names the line.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidDataset

MAX_COLUMNS = 1000
#: The domain's rule for column names (domain.datasets): an identifier of at most 64 characters.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_TRUE_FALSE = {"true", "false"}

#: A profile names a value only when at least this many rows hold it: a profile is recorded in the ledger for ever.
MIN_SHARED = 5
#: A column is a category when it has at most this many distinct values and at most this share of rows.
CATEGORY_MAX_DISTINCT = 50
CATEGORY_MAX_SHARE = 0.5

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
NUMERIC = frozenset({"integer", "float"})


def _lines(path: Path) -> Iterator[str]:
    """Decoded lines, refusing bytes that are not UTF-8 or a NUL; splitting bytes on b"\\n" is safe in UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as e:
                raise InvalidDataset(f"line {number} is not UTF-8: invalid byte at offset {offset + e.start}") from None
            if "\x00" in text:
                raise InvalidDataset(f"line {number} holds a NUL character")
            if number == 1:  # Excel's "CSV UTF-8" starts with a byte order mark; it is not part of the first name
                text = text.removeprefix("\ufeff")
            offset += len(raw)
            yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidDataset(f"the file ends inside a UTF-8 character (byte offset {offset})") from None


def _check_header(header: list[str]) -> None:
    if len(header) > MAX_COLUMNS:
        raise InvalidDataset(f"the header has {len(header)} columns; at most {MAX_COLUMNS} are allowed")
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if not name:
            raise InvalidDataset(f"column {i} of the header has an empty name")
        if name in seen:
            raise InvalidDataset(f"column name {name[:200]!r} appears twice in the header")
        if not _NAME.match(name):
            raise InvalidDataset(f"column name {name[:200]!r} is not an identifier (letters, digits and _, not starting "
                                 "with a digit, at most 64 characters), which dataset schemas require")
        seen.add(name)


def _check_csv(path: Path) -> None:
    reader = csv.reader(_lines(path), strict=True)
    header: list[str] | None = None
    rows = 0
    try:
        for row in reader:
            if not row:  # a blank line; pandas skips these too
                continue
            if header is None:
                header = row
                _check_header(header)
            elif len(row) != len(header):
                raise InvalidDataset(f"line {reader.line_num} has {len(row)} fields; the header has {len(header)}")
            else:
                rows += 1
    except csv.Error as e:
        raise InvalidDataset(f"line {reader.line_num} is not valid CSV: {e}") from None
    if header is None:
        raise InvalidDataset("the file is empty")
    if rows == 0:
        raise InvalidDataset("the file has a header but no rows")


def read_csv(path: Path, *, max_bytes: int) -> pd.DataFrame:
    """Read a UTF-8 CSV with a header row, or raise InvalidDataset naming the problem (and the line).

    Memory is bounded by max_bytes: the size is checked before anything is read. Text columns come
    back as Python str objects (dtype object), missing values as NaN.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidDataset(f"the file is {size} bytes; at most {max_bytes} are allowed")
    _check_csv(path)
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)  # utf-8, a leading BOM dropped
    except (ValueError, pd.errors.ParserError) as e:
        raise InvalidDataset(f"pandas could not parse the file: {str(e)[:200]}") from None
    for column in df.columns:
        if pd.api.types.is_string_dtype(df[column].dtype) and df[column].dtype != object:
            df[column] = df[column].astype(object).where(df[column].notna(), np.nan)
    return df


def _non_missing(series: pd.Series) -> pd.Series:
    return series[series.notna()]


def infer_type(series: pd.Series) -> str:
    """One of domain.datasets.COLUMN_TYPES for one column.

    An all-empty column is "string" (its profile shows missing_share 1.0). A float column whose values
    are all whole numbers is "integer": pandas reads an integer column with gaps as floats.
    """
    values = _non_missing(series)
    if values.empty:
        return "string"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(series.dtype):
        return "integer" if bool(np.all(np.mod(values.to_numpy(), 1) == 0)) else "float"
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "boolean"
    text = values.astype(str)
    if text.str.lower().isin(_TRUE_FALSE).all():
        return "boolean"
    if text.str.match(_ISO_DATE).all() and pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).notna().all():
        return "datetime"
    distinct = text.nunique()
    if distinct <= CATEGORY_MAX_DISTINCT and distinct <= CATEGORY_MAX_SHARE * len(values):
        return "category"
    return "string"


def infer_schema(df: pd.DataFrame) -> dict[str, str]:
    """Each column's type: integer, float, string, boolean, category or datetime."""
    return {str(column): infer_type(df[column]) for column in df.columns}


def json_float(value: Any, digits: int = 6) -> float | None:
    """A finite float rounded to `digits` significant digits, or None (JSON has no NaN)."""
    x = float(value)
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None


#: 1970-01-01 at the coarsest resolution: subtracting it keeps the values' own resolution. A nanosecond epoch made
#: pandas convert them to nanoseconds, which overflow outside 1677-2262 (year 9999 and year 1 are valid ISO dates).
_EPOCH = pd.Timestamp(0, tz="UTC").as_unit("s")


def epoch_days(values: Any) -> np.ndarray:
    """ISO 8601 date-times as float days since 1970-01-01 (UTC); what does not parse is NaN."""
    parsed = pd.to_datetime(pd.Series(values), format="ISO8601", errors="coerce", utc=True)
    return ((parsed - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def numeric_values(series: pd.Series, kind: str) -> np.ndarray:
    """Finite float values of a numeric or datetime column (datetimes as days since 1970-01-01)."""
    if kind == "datetime":
        values = epoch_days(series)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _column_profile(series: pd.Series, kind: str, *, top: int, text_cap: int, quantiles: tuple[float, ...]) -> dict[str, Any]:
    n = len(series)
    entry: dict[str, Any] = {"type": kind, "missing_share": json_float(series.isna().mean()) if n else 0.0,
                             "distinct": int(series.nunique(dropna=True))}
    if kind in NUMERIC or kind == "datetime":
        values = numeric_values(series, kind)
        if values.size:
            entry.update(min=json_float(values.min()), max=json_float(values.max()), mean=json_float(values.mean()),
                         std=json_float(values.std(ddof=1)) if values.size > 1 else None)
            if kind == "datetime":
                entry["unit"] = "days since 1970-01-01"
            if quantiles:
                qs = np.quantile(values, quantiles)
                entry["quantiles"] = {str(q): json_float(v) for q, v in zip(quantiles, qs)}
    elif top and kind != "string":  # free text (names, e-mails, ids) is never quoted into the ledger
        counts = _non_missing(series).astype(str).value_counts()
        counts = counts[counts >= MIN_SHARED].head(top)  # a value fewer rows hold could single out a person
        entry["top"] = [[str(value)[:text_cap], int(count)] for value, count in counts.items()]
    return entry


#: Levels of detail tried in turn until the profile fits in max_bytes: (top values, text cap, quantiles).
_DETAIL = ((20, 200, QUANTILES), (10, 100, QUANTILES), (5, 50, (0.05, 0.5, 0.95)), (0, 0, ()))


def profile(df: pd.DataFrame, schema: dict[str, str], *, max_bytes: int = 200_000) -> dict[str, dict]:
    """Per column: type, missing_share, distinct; numeric min/max/mean/std/quantiles; text `top` [[value, count]].

    JSON-safe (Python numbers and str, NaN as None). Detail is reduced (fewer top values, shorter
    text, three quantiles, then no top values) until the JSON is at most max_bytes, so 1000 columns fit.
    """
    result: dict[str, dict] = {}
    for top, text_cap, quantiles in _DETAIL:
        result = {column: _column_profile(df[column], kind, top=top, text_cap=text_cap, quantiles=quantiles)
                  for column, kind in schema.items()}
        if len(json.dumps(result, separators=(",", ":"))) <= max_bytes:
            break
    return result
