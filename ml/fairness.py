"""Group fairness of a binary classifier's decisions, with fairlearn's definitions (its tests are the oracle).

Per group: selection rate P(ŷ = positive), and with labels TPR P(ŷ = positive | y = positive) and FPR
P(ŷ = positive | y = negative). As in fairlearn (its rates come from a confusion matrix normalised per true class),
a group with no positives has TPR 0 and one with no negatives has FPR 0, not "undefined".
- demographic_parity_difference = max − min selection rate (fairlearn's, method "between_groups");
- equalized_odds_difference = the larger of the TPR gap and the FPR gap (fairlearn's, agg "worst_case");
- disparate_impact_ratio = min / max selection rate (fairlearn's demographic_parity_ratio); None when no group is
  selected at all (fairlearn returns NaN), and then the four-fifths rule is not breached.

Groups are the attribute's values as text (missing: "__missing__"). Groups of fewer than MIN_GROUP rows are merged
into one "__small_groups__" group before anything is computed: the summary goes into an append-only ledger, where a
group of one or two rows would describe identifiable people. When that merged group still holds fewer than MIN_GROUP
rows, only its count is given, and the figures are computed over the other groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MIN_GROUP = 5
SMALL_GROUPS = "__small_groups__"
MISSING = "__missing__"


def group_labels(values: pd.Series) -> np.ndarray:
    """The attribute's values as text, groups of fewer than MIN_GROUP rows merged into SMALL_GROUPS."""
    text = values.astype(object).where(values.notna(), MISSING).astype(str)
    counts = text.value_counts()
    small = counts.index[counts < MIN_GROUP]
    return text.where(~text.isin(small), SMALL_GROUPS).to_numpy(dtype=object)


def _rate(selected: np.ndarray, mask: np.ndarray) -> float:
    return float(selected[mask].mean()) if mask.any() else 0.0


def group_fairness(selected: np.ndarray, groups: np.ndarray, positive: np.ndarray | None,
                   four_fifths: float) -> dict[str, Any]:
    """`selected`: ŷ is the positive class; `positive`: y is the positive class (None without labels)."""
    table: dict[str, dict[str, Any]] = {}
    measured: list[dict[str, Any]] = []
    for group in sorted(set(groups.tolist())):
        mask = groups == group
        count = int(mask.sum())
        if count < MIN_GROUP:
            # Only __small_groups__ can be this small (a lone rare group, or a batch of a few rows): its rates would
            # be those people's predictions and true outcomes, so it is counted, never described, and its rates
            # stay out of the figures (which a group of one would also set to 0 or 1 at will).
            table[group] = {"count": count, "selection_rate": None, "tpr": None, "fpr": None}
            continue
        entry: dict[str, Any] = {"count": count, "selection_rate": _rate(selected, mask), "tpr": None, "fpr": None}
        if positive is not None:
            entry.update(tpr=_rate(selected, mask & positive), fpr=_rate(selected, mask & ~positive),
                         positives=int((mask & positive).sum()), negatives=int((mask & ~positive).sum()))
        table[group] = entry
        measured.append(entry)
    if not measured:
        return {"demographic_parity_difference": None, "equalized_odds_difference": None,
                "disparate_impact_ratio": None, "four_fifths_rule_breached": False, "groups": table}
    rates = [e["selection_rate"] for e in measured]
    highest, lowest = max(rates), min(rates)
    ratio = lowest / highest if highest > 0 else None
    odds = None
    if positive is not None:
        tprs, fprs = [e["tpr"] for e in measured], [e["fpr"] for e in measured]
        odds = max(max(tprs) - min(tprs), max(fprs) - min(fprs))
    return {"demographic_parity_difference": highest - lowest, "equalized_odds_difference": odds,
            "disparate_impact_ratio": ratio, "four_fifths_rule_breached": ratio is not None and ratio < four_fifths,
            "groups": table}


def fairness(frame: pd.DataFrame, attributes: tuple[str, ...], predictions: np.ndarray, labels: np.ndarray | None,
             positive_class: Any, four_fifths: float) -> dict[str, dict]:
    """Per protected attribute, group_fairness of the decisions `predictions` (and `labels` when present)."""
    selected = np.asarray(predictions == positive_class, dtype=bool)
    positive = None if labels is None else np.asarray(labels == positive_class, dtype=bool)
    return {name: group_fairness(selected, group_labels(frame[name]), positive, four_fifths) for name in attributes}
