"""Batch inference: score a frame in chunks with a trained pipeline, explain every score, and measure drift,
fairness and performance; five deterministic reports and a compact, JSON-safe summary for the ledger.

Scores: P(positive class) for binary classification, the highest class probability for multiclass, the
prediction for regression, the cluster for clustering. Score drift compares P(positive) (binary) or the
prediction (regression) as a numeric feature, and the predicted labels (multiclass, clustering) as a category,
with the reference's own scores, or without a reference with the baseline's "__score__".
Conventions of each part: ml.drift, ml.explain, ml.fairness, ml.performance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .batch_spec import BatchResult, BatchSpec, Thresholds, validate_batch
from .drift import dataset_drift, feature_drift
from .errors import TrainingCancelled
from .explain import BACKGROUND_ROWS, make_explainer
from .fairness import fairness
from .performance import SILHOUETTE_ROWS, classification, clustering, regression
from .reports import canonical, json_safe, predictions_csv

__all__ = ["BatchResult", "BatchSpec", "Thresholds", "run_batch", "validate_batch"]

def _sample(frame: pd.DataFrame, rows: int, random_state: int) -> pd.DataFrame:
    return frame.sample(n=min(rows, len(frame)), random_state=random_state).sort_index()


class _Scores:
    """What the chunks produce, gathered in row order."""

    def __init__(self, rows: int, features: int) -> None:
        self.predictions: list[np.ndarray] = []
        self.probabilities: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.contributions = np.zeros((rows, features))
        self.base = np.full(rows, np.nan)
        self.explained = np.zeros(rows, dtype=bool)


def _score_chunk(pipeline: Pipeline, chunk: pd.DataFrame, spec: BatchSpec, positive_column: int | None):
    encoded = pipeline[:-1].transform(chunk)
    model = pipeline[-1]
    predictions = model.predict(encoded)
    probabilities = None
    if spec.task == "classification":
        probabilities = model.predict_proba(encoded)
        scores = probabilities[:, positive_column] if positive_column is not None else probabilities.max(axis=1)
    else:
        scores = np.asarray(predictions, dtype=float)
    return encoded, predictions, probabilities, scores


def _score_target(pipeline: Pipeline, frame: pd.DataFrame, spec: BatchSpec, positive_column: int | None):
    """What score drift compares, on any rows: (values, kind)."""
    _, predictions, _, scores = _score_chunk(pipeline, frame, spec, positive_column)
    if spec.task == "regression" or positive_column is not None:
        return pd.Series(scores), "float"
    return pd.Series(predictions), "category"


def _labels(frame: pd.DataFrame, spec: BatchSpec, classes: np.ndarray) -> np.ndarray | None:
    if spec.label_column is None:
        return None
    values = frame[spec.label_column]
    if spec.task == "regression":
        return values.to_numpy(dtype=float)
    lookup = {str(c): c for c in classes.tolist()}
    return np.asarray([lookup[str(v)] for v in values], dtype=classes.dtype)


def run_batch(pipeline: Pipeline, frame: pd.DataFrame, spec: BatchSpec, *, reference: pd.DataFrame | None, baseline: dict,
              progress: Callable[[float, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchResult:
    """Score, explain and measure `frame`; raise InvalidBatchRequest before scoring (see validate_batch) and
    TrainingCancelled when should_stop() turns True (checked before each chunk and before the measurements)."""
    validate_batch(frame, spec)
    rows, features = len(frame), list(spec.features)
    X = frame[features]
    schema = {f: spec.input_schema[f] for f in features}
    model = pipeline[-1]
    classes = np.asarray(getattr(model, "classes_", []))
    binary = spec.task == "classification" and len(spec.classes) == 2
    positive_column = [str(c) for c in classes.tolist()].index(str(spec.classes[1])) if binary else None
    usable_reference = reference is not None and all(f in reference.columns for f in features)
    source = reference[features] if usable_reference else X
    background = pipeline[:-1].transform(_sample(source, BACKGROUND_ROWS, spec.random_state))
    explainer = make_explainer(pipeline, features, spec.task, background, spec.random_state)

    def check_cancelled(done: int) -> None:
        if should_stop is not None and should_stop():
            raise TrainingCancelled(f"the batch run was cancelled after {done} of {rows} rows")

    gathered = _Scores(rows, len(features))
    for start in range(0, rows, spec.chunk_rows):
        check_cancelled(start)
        stop = min(start + spec.chunk_rows, rows)
        encoded, predictions, probabilities, scores = _score_chunk(pipeline, X.iloc[start:stop], spec, positive_column)
        gathered.predictions.append(predictions)
        gathered.scores.append(scores)
        if probabilities is not None:
            gathered.probabilities.append(probabilities)
        bound = rows if explainer.explain_rows is None else explainer.explain_rows
        if explainer.name is not None and start < bound:
            take = min(stop, bound) - start
            predicted = None if binary or spec.task != "classification" else np.searchsorted(classes, predictions[:take])
            values, base = explainer.explain(encoded[:take], predicted)
            gathered.contributions[start:start + take], gathered.base[start:start + take] = values, base
            gathered.explained[start:start + take] = True
        if progress is not None:
            progress(stop / rows, stop)
    check_cancelled(rows)

    predictions = np.concatenate(gathered.predictions)
    scores = np.concatenate(gathered.scores)
    probabilities = np.concatenate(gathered.probabilities) if gathered.probabilities else None
    labels = _labels(frame, spec, classes)

    drift = dataset_drift(frame, schema, spec.thresholds, reference=reference[features] if usable_reference else None,
                          baseline=baseline)
    current, kind = ((pd.Series(scores), "float") if spec.task == "regression" or binary
                     else (pd.Series(predictions), "category"))
    reference_scores = None
    if usable_reference:
        reference_scores, _ = _score_target(pipeline, reference[features], spec, positive_column)
    drift["score"] = feature_drift(current, kind, spec.thresholds, reference=reference_scores,
                                   small=usable_reference and len(reference) <= spec.thresholds.small_reference,
                                   recorded=None if usable_reference else baseline.get("__score__"))

    if binary and spec.protected_attributes:
        # Rates are of the favourable outcome for the person scored (an approval, not a default): the four-fifths rule
        # compares who receives the benefit, and ratios of bad-outcome rates breach where favourable ones do not.
        favourable = spec.favourable if spec.favourable is not None else spec.classes[1]
        fair = {"applicable": True, "positive_class": favourable, "favourable_outcome": favourable,
                "attributes": fairness(frame, spec.protected_attributes, predictions, labels, favourable,
                                       spec.thresholds.four_fifths)}
    else:
        fair = {"applicable": False, "attributes": {},
                "reason": "no protected attributes" if binary else "fairness is measured for binary classification only"}

    if spec.task == "clustering":
        positions = np.sort(np.random.default_rng(spec.random_state).choice(rows, min(rows, SILHOUETTE_ROWS), replace=False))
        performance = clustering(pipeline[:-1].transform(X.iloc[positions]), predictions[positions], predictions)
    elif labels is None:
        performance = None
    elif spec.task == "regression":
        performance = regression(labels, np.asarray(predictions, dtype=float))
    else:
        performance = classification(labels, predictions, probabilities, classes.tolist())

    explained = gathered.explained
    importance = {f: float(np.abs(gathered.contributions[explained, i]).mean()) if explained.any() else None
                  for i, f in enumerate(features)}
    explanations = {"explainer": explainer.name, "output": explainer.output, "note": explainer.note,
                    "explained_rows": int(explained.sum()), "global_importance": importance,
                    "base_value": _base_value(gathered.base[explained], predictions[explained], binary, spec.task),
                    "positive_class": spec.classes[1] if binary else None}
    reports = {"predictions": predictions_csv(predictions, scores, gathered.contributions, explained, features,
                                              spec.top_contributions),
               "drift": canonical(drift), "explanations": canonical(explanations), "fairness": canonical(fair),
               "performance": canonical({"applicable": performance is not None, "task": spec.task,
                                         "figures": performance})}
    summary = json_safe({
        "rows": rows,
        "performance": _compact(performance),
        "drift": {"share_drifted": drift["share_drifted"], "dataset_drift": drift["dataset_drift"],
                  "drifted_features": drift["drifted_features"], "score_drift": drift["score"]["drifted"],
                  "method": drift["method"]},
        "fairness": {name: {k: v for k, v in entry.items()} | {"groups": {
            g: {k: e[k] for k in ("count", "selection_rate", "tpr", "fpr")} for g, e in entry["groups"].items()}}
            for name, entry in fair["attributes"].items()},
        "explanations": {"explainer": explainer.name, "output": explainer.output, "global_importance": importance},
    })
    breach = any(entry["four_fifths_rule_breached"] for entry in fair["attributes"].values())
    return BatchResult(reports=reports, summary=summary, rows=rows, drift_detected=bool(drift["dataset_drift"]),
                       fairness_breach=breach)


def _base_value(base: np.ndarray, predictions: np.ndarray, binary: bool, task: str) -> Any:
    """The expected output the contributions start from: one value, or per predicted class for multiclass."""
    if not len(base):
        return None
    if task != "classification" or binary:
        return float(base[0])
    return {str(c): float(base[predictions == c][0]) for c in sorted(set(predictions.tolist()), key=str)}


def _compact(performance: dict | None) -> dict | None:
    """The performance figures the ledger records: the scalars (no confusion matrix, calibration or sizes)."""
    if performance is None:
        return None
    return {k: v for k, v in performance.items() if v is None or isinstance(v, (int, float))}
