"""Batch-run evidence computed from real predictions on held-out data: performance, drift, fairness, explanations.

Until the batch-inference worker exists, the demo and the tests record batch runs with these reports.
The usual batch-drift conventions: KS at p < 0.05 per numeric feature, PSI with 0.1 / 0.25 bands, dataset
drift when ≥ 50% of features drift, the four-fifths rule on the disparate-impact ratio.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score


@dataclass(frozen=True)
class Evidence:
    metrics: dict[str, float]
    reports: dict[str, bytes]  # name → canonical JSON
    drift_share: float
    drift_detected: bool
    fairness_breach: bool

    @property
    def report_hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(body).hexdigest() for name, body in self.reports.items()}


def _json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    ref = np.histogram(reference, edges)[0] / len(reference) + 1e-6
    cur = np.histogram(np.clip(current, edges[0], edges[-1]), edges)[0] / len(current) + 1e-6
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def batch_evidence(model: Any, feature_names: list[str], reference_X: np.ndarray, X: np.ndarray, y: np.ndarray,
                   groups: np.ndarray) -> Evidence:
    X = pd.DataFrame(X, columns=feature_names)  # a trained pipeline selects its input columns by name
    scores = model.predict_proba(X)[:, 1]
    predicted = (scores >= 0.5).astype(int)
    metrics = {"roc_auc": float(roc_auc_score(y, scores)), "accuracy": float(accuracy_score(y, predicted)),
               "precision": float(precision_score(y, predicted, zero_division=0)),
               "recall": float(recall_score(y, predicted, zero_division=0))}
    drift = {}
    for i, name in enumerate(feature_names):
        current = X[name].to_numpy(float)
        test = ks_2samp(reference_X[:, i], current)
        drift[name] = {"ks_statistic": float(test.statistic), "p_value": float(test.pvalue), "psi": psi(reference_X[:, i], current),
                       "drifted": bool(test.pvalue < 0.05)}
    share = sum(d["drifted"] for d in drift.values()) / len(drift)
    rates, tpr, fpr = {}, {}, {}
    for g in sorted(set(groups.tolist())):
        mask = groups == g
        rates[g] = float(predicted[mask].mean())
        tpr[g] = float(predicted[mask & (y == 1)].mean()) if (mask & (y == 1)).any() else 0.0
        fpr[g] = float(predicted[mask & (y == 0)].mean()) if (mask & (y == 0)).any() else 0.0
    ratio = min(rates.values()) / max(rates.values()) if max(rates.values()) > 0 else 1.0
    fairness = {"positive_rate": rates, "demographic_parity_difference": max(rates.values()) - min(rates.values()),
                "equalized_odds_difference": max(max(tpr.values()) - min(tpr.values()), max(fpr.values()) - min(fpr.values())),
                "disparate_impact_ratio": ratio, "four_fifths_rule_breached": ratio < 0.8}
    importance = permutation_importance(model, X, y, n_repeats=3, random_state=0, scoring="roc_auc")
    explanations = {name: {"mean": float(m), "std": float(s)}
                    for name, m, s in zip(feature_names, importance.importances_mean, importance.importances_std)}
    reports = {"predictions": _json({"scores": [round(float(s), 6) for s in scores]}),
               "performance": _json(metrics), "drift": _json({"features": drift, "share_drifted": share}),
               "fairness": _json(fairness), "explanations": _json({"permutation_importance": explanations})}
    return Evidence(metrics, reports, share, share >= 0.5, bool(fairness["four_fifths_rule_breached"]))
