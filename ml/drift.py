"""Drift of a batch against what the model was trained on: per feature, and of the model's scores.

With the training rows (`reference`):
- numeric and datetime (as epoch days): a reference of at most `small_reference` rows → the two-sample KS test,
  drifted when p < p_value; larger → the Wasserstein distance divided by the reference's standard deviation
  (population std, floored at MIN_STD so a constant feature gives a large, finite distance when it moves),
  drifted when ≥ distance.
- categories and booleans (as text), and free text (as ml.baseline.hash_bucket buckets, so no value is read):
  small → the chi-square test of the 2 × k contingency table of reference and batch counts over every value seen in
  either (scipy.stats.chi2_contingency, Yates' correction when k = 2); a value never seen in training is a column
  whose reference count is 0. Large → the Jensen–Shannon distance (base 2, in [0, 1]) of the two share vectors.
Without them (a version imported without its data), against the recorded baseline (ml.baseline): a chi-square
goodness-of-fit test (scipy.stats.chisquare) of the batch counts against the training counts (numeric: the 10
equal-width histogram bins of the training range, a value outside it counting in the end bin; categorical: the
named values plus "__other__", which also takes every value the baseline does not name), each training count plus
one half so that a bin training left empty is unlikely rather than impossible. Drifted when p < p_value. This test
grows sensitive with the batch's size: on large batches read it beside PSI.

PSI always: numeric over 10 reference-quantile bins (without a reference, the baseline's histogram bins),
categorical per value; shares floored at MIN_SHARE; bands stable < psi_warn ≤ warning < psi_drift ≤ drift. A feature with no values on either side is not tested (method "none") and does not drift.
The share drifted counts every feature; dataset drift when it is at least `dataset_share`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, chisquare, ks_2samp, wasserstein_distance

from .baseline import hash_bucket
from .tabular import numeric_values

MIN_STD = 1e-3
MIN_SHARE = 1e-4
PSI_BINS = 10
_TEXT_CAP = 200  # as ml.baseline: values are compared by their first 200 characters
NUMERIC_KINDS = ("integer", "float", "datetime")


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    ref, cur = np.maximum(reference_shares, MIN_SHARE), np.maximum(current_shares, MIN_SHARE)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_band(value: float, thresholds: Any) -> str:
    return "drift" if value >= thresholds.psi_drift else "warning" if value >= thresholds.psi_warn else "stable"


def quantile_bins(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the reference and of the batch in the reference's decile bins (ties merge bins)."""
    inner = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1))[1:-1])
    counts = [np.bincount(np.searchsorted(inner, v, side="left"), minlength=len(inner) + 1) for v in (reference, current)]
    return counts[0] / len(reference), counts[1] / len(current)


def text_values(series: pd.Series, kind: str) -> pd.Series:
    present = series[series.notna()]
    return present.map(hash_bucket) if kind == "string" else present.astype(str).str.slice(0, _TEXT_CAP)


def _untested(note: str) -> dict[str, Any]:
    return {"method": "none", "note": note, "statistic": None, "p_value": None, "distance": None, "psi": None,
            "psi_band": None, "drifted": False}


def _numeric_vs_reference(ref: np.ndarray, cur: np.ndarray, small: bool, t: Any) -> dict[str, Any]:
    shares = quantile_bins(ref, cur)
    value = psi(*shares)
    if small:
        with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp": the p-value stands
            warnings.simplefilter("ignore", RuntimeWarning)
            test = ks_2samp(ref, cur)
        return {"method": "ks", "statistic": float(test.statistic), "p_value": float(test.pvalue), "distance": None,
                "psi": value, "psi_band": psi_band(value, t), "drifted": bool(test.pvalue < t.p_value)}
    distance = wasserstein_distance(ref, cur) / max(float(np.std(ref)), MIN_STD)
    return {"method": "wasserstein", "statistic": None, "p_value": None, "distance": float(distance), "psi": value,
            "psi_band": psi_band(value, t), "drifted": bool(distance >= t.distance)}


def _categorical_vs_reference(ref: pd.Series, cur: pd.Series, small: bool, t: Any) -> dict[str, Any]:
    values = sorted(set(ref.unique()) | set(cur.unique()))
    counts = np.array([ref.value_counts().reindex(values, fill_value=0).to_numpy(),
                       cur.value_counts().reindex(values, fill_value=0).to_numpy()], dtype=float)
    shares = counts / counts.sum(axis=1, keepdims=True)
    value = psi(shares[0], shares[1])
    if small:
        statistic, p_value = (0.0, 1.0) if len(values) < 2 else chi2_contingency(counts)[:2]
        return {"method": "chi_square", "statistic": float(statistic), "p_value": float(p_value), "distance": None,
                "psi": value, "psi_band": psi_band(value, t), "drifted": bool(p_value < t.p_value)}
    distance = float(jensenshannon(shares[0], shares[1], base=2))
    return {"method": "jensen_shannon", "statistic": None, "p_value": None, "distance": distance, "psi": value,
            "psi_band": psi_band(value, t), "drifted": bool(distance >= t.distance)}


def goodness_of_fit(reference_counts: np.ndarray, current_counts: np.ndarray, t: Any, method: str) -> dict[str, Any]:
    """The batch counts against the recorded training counts: chi-square goodness of fit, and PSI.

    The expected shares are the training counts plus one half, so a value or bin training never held is unlikely
    rather than impossible (a single unseen value no longer decides the test)."""
    expected = (reference_counts + 0.5) / (reference_counts.sum() + 0.5 * len(reference_counts)) * current_counts.sum()
    statistic, p_value = (0.0, 1.0) if len(expected) < 2 else chisquare(current_counts, expected)
    value = psi(reference_counts / reference_counts.sum(), current_counts / current_counts.sum())
    return {"method": method, "statistic": float(statistic), "p_value": float(p_value), "distance": None, "psi": value,
            "psi_band": psi_band(value, t), "drifted": bool(p_value < t.p_value)}


def histogram_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts in np.histogram's bins (the last one closed); values outside the edges count in the end bins."""
    return np.bincount(np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2),
                       minlength=len(edges) - 1).astype(float)


def _numeric_vs_baseline(recorded: dict, cur: np.ndarray, t: Any) -> dict[str, Any]:
    edges = np.asarray(recorded["histogram"]["edges"], dtype=float)
    reference = np.asarray(recorded["histogram"]["counts"], dtype=float)
    return goodness_of_fit(reference, histogram_counts(edges, cur), t, "chi_square_baseline_histogram")


def _categorical_vs_baseline(recorded: dict, cur: pd.Series, t: Any) -> dict[str, Any]:
    shares = {k: v or 0.0 for k, v in recorded["frequencies"].items()}
    shares.setdefault("__other__", 0.0)
    named = sorted(shares)
    current = cur.where(cur.isin(named), "__other__").value_counts().reindex(named, fill_value=0).to_numpy(dtype=float)
    reference = np.array([shares[v] for v in named]) * recorded["n"]  # the training counts, from shares and n
    return goodness_of_fit(reference, current, t, "chi_square_baseline_frequencies")


def feature_drift(current: pd.Series, kind: str, t: Any, *, reference: pd.Series | None, small: bool,
                  recorded: dict | None) -> dict[str, Any]:
    """One feature's drift: against the reference rows when given, else against the recorded baseline."""
    numeric = kind in NUMERIC_KINDS
    cur = numeric_values(current, kind) if numeric else text_values(current, kind)
    if len(cur) == 0:
        return _untested("no values in the batch")
    if reference is not None:
        ref = numeric_values(reference, kind) if numeric else text_values(reference, kind)
        if len(ref) == 0:
            return _untested("no values in the reference")
        return _numeric_vs_reference(ref, cur, small, t) if numeric else _categorical_vs_reference(ref, cur, small, t)
    if not recorded or not recorded.get("n"):
        return _untested("no baseline recorded for this feature")
    if numeric:
        return _numeric_vs_baseline(recorded, cur, t)
    return _categorical_vs_baseline(recorded, cur, t)


def dataset_drift(frame: pd.DataFrame, schema: dict[str, str], thresholds: Any, *, reference: pd.DataFrame | None,
                  baseline: dict) -> dict[str, Any]:
    """Per feature drift (in `schema` order), the share drifted and whether that is dataset drift."""
    small = reference is not None and len(reference) <= thresholds.small_reference
    features = {}
    for name, kind in schema.items():
        ref = None
        if reference is not None:
            ref = reference[name] if name in reference.columns else pd.Series([], dtype=object)
        features[name] = feature_drift(frame[name], kind, thresholds, reference=ref, small=small,
                                       recorded=baseline.get(name))
    drifted = [name for name, entry in features.items() if entry["drifted"]]
    share = len(drifted) / len(features) if features else 0.0
    return {"method": "reference" if reference is not None else "baseline", "reference_rows":
            None if reference is None else len(reference), "features": features, "drifted_features": drifted,
            "share_drifted": share, "dataset_drift": bool(features) and share >= thresholds.dataset_share}
