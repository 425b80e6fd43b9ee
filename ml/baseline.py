"""What a trained model saw: each feature's domain and reference distribution, for input checks and drift.

Numeric references are quantiles plus a 10-bin equal-width histogram over the training range;
categorical references are value shares (the 200 most frequent values; the rest share "__other__").
Everything is JSON-safe.

These are recorded in the ledger for ever, where nothing can be erased, so no value that could single out a person
is kept: a category's value is named only when at least MIN_SHARED rows hold it (rarer ones count as "__other__"),
and free text ("string" features: names, e-mails, identifiers) is described by the shares of HASH_BUCKETS buckets of
its values' SHA-256, which show a shift in its distribution and name no value.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from .tabular import QUANTILES, json_float, numeric_values

MAX_CATEGORIES = 200
BINS = 10
_TEXT_CAP = 200
#: A value is named only when at least this many rows share it.
MIN_SHARED = 5
HASH_BUCKETS = 32


def _is_numeric(kind: str) -> bool:
    return kind in ("integer", "float", "datetime")


def _text_counts(series: pd.Series) -> pd.Series:
    return series[series.notna()].astype(str).str.slice(0, _TEXT_CAP).value_counts()


def numeric_reference(values: np.ndarray) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if not values.size:
        return {"quantiles": {}, "histogram": {"edges": [], "counts": []}, "n": 0}
    counts, edges = np.histogram(values, bins=BINS, range=(float(values.min()), float(values.max())))
    return {"quantiles": {str(q): json_float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))},
            "histogram": {"edges": [json_float(e) for e in edges], "counts": [int(c) for c in counts]},
            "n": int(values.size)}


def shared_values(series: pd.Series) -> pd.Series:
    """Counts of the values at least MIN_SHARED rows hold, most frequent first, at most MAX_CATEGORIES."""
    counts = _text_counts(series)
    return counts[counts >= MIN_SHARED].head(MAX_CATEGORIES)


def hash_bucket(value: object) -> str:
    """The bucket of a free-text value: the same for the same text in training and when scoring."""
    return str(int.from_bytes(hashlib.sha256(str(value)[:_TEXT_CAP].encode()).digest()[:4], "big") % HASH_BUCKETS)


def categorical_reference(series: pd.Series, kind: str = "category") -> dict[str, Any]:
    if kind == "string":
        present = series[series.notna()]
        n = int(present.size)
        buckets = present.map(hash_bucket).value_counts()
        return {"hashed": HASH_BUCKETS, "frequencies": {b: json_float(c / n) for b, c in sorted(buckets.items())}, "n": n}
    counts = _text_counts(series)
    n = int(counts.sum())
    named = shared_values(series)
    frequencies = {str(v): json_float(c / n) for v, c in named.items()}
    rest = n - int(named.sum())
    if rest:
        frequencies["__other__"] = json_float(rest / n)
    return {"frequencies": frequencies, "n": n}


def feature_domains(X: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict]:
    """numeric and datetime (epoch days): {"min", "max"}; categories and booleans: {"categories": the values at least
    MIN_SHARED rows hold, "other_values": whether rarer ones were seen}; free text: {"free_text": true}."""
    domains: dict[str, dict] = {}
    for column, kind in schema.items():
        if _is_numeric(kind):
            values = numeric_values(X[column], kind)
            domains[column] = ({"min": json_float(values.min(), 15), "max": json_float(values.max(), 15)}
                               if values.size else {"min": None, "max": None})
        elif kind == "string":
            domains[column] = {"free_text": True}  # any text; its values are never recorded
        else:
            named = shared_values(X[column])
            domains[column] = {"categories": [str(v) for v in named.index],
                               "other_values": int(named.sum()) < int(X[column].notna().sum())}
    return domains


def feature_baseline(X: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict]:
    return {column: numeric_reference(numeric_values(X[column], kind)) if _is_numeric(kind)
            else categorical_reference(X[column], kind) for column, kind in schema.items()}


def score_baseline(pipeline: Any, X: pd.DataFrame, task: str, classes: list | None) -> dict[str, Any]:
    """The fitted model's outputs on its training rows: P(positive class) for binary classification,
    predictions for regression, label shares for multiclass and clustering. In-sample, so slightly optimistic."""
    if task == "classification" and classes is not None and len(classes) == 2:
        return {"kind": "probability", "positive_class": classes[1], **numeric_reference(pipeline.predict_proba(X)[:, 1])}
    predicted = pipeline.predict(X)
    if task == "regression":
        return {"kind": "prediction", **numeric_reference(np.asarray(predicted, dtype=float))}
    return {"kind": "label", **categorical_reference(pd.Series(predicted))}
