"""What a trained model saw: each feature's domain and reference distribution, for input checks and drift.

Numeric references are quantiles plus a 10-bin equal-width histogram over the training range;
categorical references are value shares (the 200 most frequent values; the rest share "__other__").
Everything is JSON-safe.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .tabular import QUANTILES, json_float, numeric_values

MAX_CATEGORIES = 200
BINS = 10
_TEXT_CAP = 200


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


def categorical_reference(series: pd.Series) -> dict[str, Any]:
    counts = _text_counts(series)
    n = int(counts.sum())
    frequencies = {str(v): json_float(c / n) for v, c in counts.head(MAX_CATEGORIES).items()}
    rest = int(counts.iloc[MAX_CATEGORIES:].sum())
    if rest:
        frequencies["__other__"] = json_float(rest / n)
    return {"frequencies": frequencies, "n": n}


def feature_domains(X: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict]:
    """numeric and datetime (epoch days): {"min", "max"}; text: {"categories": [...]} (the 200 most frequent)."""
    domains: dict[str, dict] = {}
    for column, kind in schema.items():
        if _is_numeric(kind):
            values = numeric_values(X[column], kind)
            domains[column] = ({"min": json_float(values.min(), 15), "max": json_float(values.max(), 15)}
                               if values.size else {"min": None, "max": None})
        else:
            domains[column] = {"categories": [str(v) for v in _text_counts(X[column]).index[:MAX_CATEGORIES]]}
    return domains


def feature_baseline(X: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict]:
    return {column: numeric_reference(numeric_values(X[column], kind)) if _is_numeric(kind) else categorical_reference(X[column])
            for column, kind in schema.items()}


def score_baseline(pipeline: Any, X: pd.DataFrame, task: str, classes: list | None) -> dict[str, Any]:
    """The fitted model's outputs on its training rows: P(positive class) for binary classification,
    predictions for regression, label shares for multiclass and clustering. In-sample, so slightly optimistic."""
    if task == "classification" and classes is not None and len(classes) == 2:
        return {"kind": "probability", "positive_class": classes[1], **numeric_reference(pipeline.predict_proba(X)[:, 1])}
    predicted = pipeline.predict(X)
    if task == "regression":
        return {"kind": "prediction", **numeric_reference(np.asarray(predicted, dtype=float))}
    return {"kind": "label", **categorical_reference(pd.Series(predicted))}
