"""How well a model did on a labelled batch, with scikit-learn's metrics.

Classification: AUC (binary on P(positive); multiclass one-vs-rest macro), accuracy, precision, recall and F1 (the
positive class for binary, macro for multiclass; 0 where undefined), log-loss, the confusion matrix in the
version's class order, and for binary a 10-bin reliability table (equal-width bins of P(positive): count, mean
predicted, observed positive rate; empty bins have None). A figure that cannot be computed on this batch (AUC when
only one class is present) is None.
Regression: RMSE, MAE, R², and MAPE over the rows whose target is not zero (a zero target has no percentage error;
the rows left out are counted), None when every target is zero.
Clustering (no label): the silhouette on at most SILHOUETTE_ROWS sampled rows of the encoded features, and the
cluster sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    silhouette_score,
)

SILHOUETTE_ROWS = 5_000
CALIBRATION_BINS = 10


def _or_none(compute) -> float | None:
    try:
        return float(compute())
    except ValueError:  # a figure this batch cannot give (one class only, …)
        return None


def calibration(positive: np.ndarray, score: np.ndarray) -> list[dict[str, Any]]:
    bins = np.clip((score * CALIBRATION_BINS).astype(int), 0, CALIBRATION_BINS - 1)
    table = []
    for b in range(CALIBRATION_BINS):
        mask = bins == b
        table.append({"bin": [b / CALIBRATION_BINS, (b + 1) / CALIBRATION_BINS], "count": int(mask.sum()),
                      "mean_predicted": float(score[mask].mean()) if mask.any() else None,
                      "observed": float(positive[mask].mean()) if mask.any() else None})
    return table


def classification(labels: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray, classes: list) -> dict[str, Any]:
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    options = {"average": average, "zero_division": 0, "labels": None if binary else classes}
    if binary:
        options["pos_label"] = classes[1]
    figures = {
        "rows": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(precision_score(labels, predictions, **options)),
        "recall": float(recall_score(labels, predictions, **options)),
        "f1": float(f1_score(labels, predictions, **options)),
        "log_loss": _or_none(lambda: log_loss(labels, probabilities, labels=classes)),
        "confusion_matrix": {"classes": [str(c) for c in classes],
                             "counts": confusion_matrix(labels, predictions, labels=classes).tolist()},
    }
    if binary:
        positive = labels == classes[1]
        figures["roc_auc"] = _or_none(lambda: roc_auc_score(positive, probabilities[:, 1]))
        figures["calibration"] = calibration(positive, probabilities[:, 1])
    else:
        figures["roc_auc"] = _or_none(lambda: roc_auc_score(labels, probabilities, multi_class="ovr", average="macro",
                                                            labels=classes))
    return figures


def regression(targets: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    nonzero = targets != 0
    mape = float(np.mean(np.abs((targets[nonzero] - predictions[nonzero]) / targets[nonzero]))) if nonzero.any() else None
    return {"rows": int(len(targets)), "rmse": float(np.sqrt(mean_squared_error(targets, predictions))),
            "mae": float(mean_absolute_error(targets, predictions)), "r2": _or_none(lambda: r2_score(targets, predictions)),
            "mape": mape, "mape_rows_left_out": int((~nonzero).sum())}


def clustering(sample: np.ndarray, sample_clusters: np.ndarray, clusters: np.ndarray) -> dict[str, Any]:
    """`sample`: encoded rows (at most SILHOUETTE_ROWS) and their clusters; `clusters`: every row's."""
    found = len(np.unique(sample_clusters))
    silhouette = float(silhouette_score(sample, sample_clusters)) if 2 <= found < len(sample) else None
    values, counts = np.unique(clusters, return_counts=True)
    return {"rows": int(len(clusters)), "silhouette": silhouette, "silhouette_rows": int(len(sample)),
            "cluster_sizes": {str(v): int(c) for v, c in zip(values.tolist(), counts)}}
