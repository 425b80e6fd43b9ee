"""What a batch run is asked to do, what it returns, and the checks run before any row is scored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import InvalidBatchRequest
from .tabular import epoch_days

TASKS = ("classification", "regression", "clustering")


@dataclass(frozen=True)
class Thresholds:
    """Drift and fairness thresholds; the lead maps a model's risk tier to these."""

    p_value: float = 0.05  # KS / chi-square, small references and baselines
    distance: float = 0.1  # normed Wasserstein (numeric) / Jensen–Shannon distance (categorical), large references
    psi_warn: float = 0.1
    psi_drift: float = 0.25
    dataset_share: float = 0.5  # dataset drift when at least this share of features drift
    four_fifths: float = 0.8  # a disparate impact ratio below this breaches the four-fifths rule
    small_reference: int = 1000  # a reference of at most this many rows uses the statistical tests


@dataclass(frozen=True)
class BatchSpec:
    task: str  # "classification" | "regression" | "clustering": the version's task
    features: list[str]  # the version's input features, in order
    input_schema: dict[str, str]  # feature → integer, float, string, boolean, category or datetime
    label_column: str | None = None
    protected_attributes: tuple[str, ...] = ()
    classes: list | None = None  # the version's classes; the positive class is classes[1] for binary
    favourable: Any = None  # the class that is the favourable outcome for the person scored (fairness); classes[1] if None
    thresholds: Thresholds = field(default_factory=Thresholds)
    chunk_rows: int = 10_000
    top_contributions: int = 5
    random_state: int = 0


@dataclass(frozen=True)
class BatchResult:
    reports: dict[str, bytes]  # predictions (CSV), drift, explanations, fairness, performance (canonical JSON)
    summary: dict  # JSON-safe and compact: what the ledger records
    rows: int
    drift_detected: bool  # dataset drift: at least thresholds.dataset_share of the features drifted
    fairness_breach: bool  # the four-fifths rule is breached for some protected attribute


def _mistyped(series: pd.Series, kind: str) -> str | None:
    """Why a column cannot feed a feature of this kind, or None. Text kinds take any values (encoded as text)."""
    present = series[series.notna()]
    if kind in ("integer", "float"):
        if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
            return f"{kind} expected, the column holds {series.dtype}"
    elif kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(series.dtype):
            unparsed = int(pd.isna(epoch_days(present.astype(str))).sum()) if len(present) else 0
            if unparsed:
                return f"datetime expected, {unparsed} values are not ISO 8601 dates"
    elif kind == "boolean":
        if not pd.api.types.is_bool_dtype(series.dtype):
            text = present.astype(str).str.lower()
            if not text.isin(["true", "false"]).all():
                return "boolean expected, the column holds other values than true and false"
    return None


def _label_problems(frame: pd.DataFrame, spec: BatchSpec) -> list[str]:
    label = spec.label_column
    if label is None:
        return []
    if spec.task == "clustering":
        return ["clustering takes no label column; leave label_column unset"]
    if label not in frame.columns:
        return [f"the label column {label!r} is not in the batch"]
    values = frame[label]
    if values.isna().any():
        return [f"the label column {label!r} is missing in {int(values.isna().sum())} rows"]
    if spec.task == "regression":
        if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            return [f"the label column {label!r} must be numeric for regression; it holds {values.dtype}"]
        return []
    known = {str(c) for c in spec.classes or ()}
    unseen = sorted({str(v) for v in values.unique()} - known)
    if unseen:
        shown = ", ".join(repr(v) for v in unseen[:20]) + (f" and {len(unseen) - 20} more" if len(unseen) > 20 else "")
        return [f"the label column {label!r} holds classes the version never saw: {shown}"]
    return []


def validate_batch(frame: pd.DataFrame, spec: BatchSpec) -> None:
    """Raise InvalidBatchRequest naming every problem at once: missing and mistyped feature columns, a missing or
    mistyped label, classes the version never saw, missing protected attributes, an empty batch, a bad spec."""
    problems: list[str] = []
    if spec.task not in TASKS:
        problems.append(f"task must be classification, regression or clustering, not {spec.task!r}")
    if spec.task == "classification" and (not spec.classes or len(spec.classes) < 2):
        problems.append("a classification version must name its classes (at least two)")
    if not spec.features:
        problems.append("the version has no features")
    if not isinstance(spec.chunk_rows, int) or spec.chunk_rows < 1:
        problems.append(f"chunk_rows must be a positive integer, not {spec.chunk_rows!r}")
    if not isinstance(spec.top_contributions, int) or spec.top_contributions < 0:
        problems.append(f"top_contributions must be a non-negative integer, not {spec.top_contributions!r}")
    if spec.favourable is not None and (not spec.classes or spec.favourable not in spec.classes):
        problems.append(f"the favourable outcome {spec.favourable!r} is not one of the version's classes")
    if len(frame) == 0:
        problems.append("the batch has no rows")
    missing = [f for f in spec.features if f not in frame.columns]
    if missing:
        problems.append(f"missing feature column(s): {', '.join(missing)}")
    untyped = [f for f in spec.features if f not in spec.input_schema]
    if untyped:
        problems.append(f"the version's schema does not type feature(s): {', '.join(untyped)}")
    mistyped = [f"{f} ({why})" for f in spec.features if f in frame.columns and f in spec.input_schema
                and (why := _mistyped(frame[f], spec.input_schema[f]))]
    if mistyped:
        problems.append(f"mistyped feature column(s): {'; '.join(mistyped)}")
    problems += _label_problems(frame, spec)
    absent = [a for a in spec.protected_attributes if a not in frame.columns]
    if absent:
        problems.append(f"protected attribute(s) not in the batch: {', '.join(absent)}")
    if problems:
        raise InvalidBatchRequest("; ".join(problems))
