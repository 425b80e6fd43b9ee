"""Fairness figures match fairlearn's (the oracle), including groups with no positives or no negatives."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
)

from ml.fairness import SMALL_GROUPS, fairness, group_fairness, group_labels


def _cases():
    rng = np.random.default_rng(7)
    for n, groups in ((60, 2), (200, 3), (500, 5)):
        yield "random", rng.integers(0, 2, n), rng.integers(0, 2, n), rng.choice([f"g{i}" for i in range(groups)], n)
    y = np.array([0] * 6 + [0, 1, 1, 0, 1, 0, 1, 1])
    p = np.array([1, 0, 0, 1, 0, 0] + [0, 1, 0, 0, 1, 1, 1, 0])
    g = np.array(["no_positives"] * 6 + ["mixed"] * 8)
    yield "a group with no positives", y, p, g
    y2 = np.array([1] * 7 + [0, 1, 0, 1, 0, 1])
    p2 = np.array([1, 1, 0, 1, 0, 1, 1] + [0, 1, 1, 1, 0, 0])
    g2 = np.array(["no_negatives"] * 7 + ["mixed"] * 6)
    yield "a group with no negatives", y2, p2, g2
    yield "both at once", np.concatenate([y, y2]), np.concatenate([p, p2]), np.concatenate([g, np.where(g2 == "mixed", "other", g2)])
    yield "a group never selected", y, np.where(g == "mixed", p, 0), g


@pytest.mark.parametrize("name,y,p,g", list(_cases()), ids=[c[0] for c in _cases()])
def test_fairness_figures_equal_fairlearns(name, y, p, g):
    ours = group_fairness(p == 1, g.astype(object), y == 1, 0.8)
    assert ours["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=g), abs=1e-9)
    assert ours["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y, p, sensitive_features=g), abs=1e-9)
    ratio = demographic_parity_ratio(y, p, sensitive_features=g)
    assert ours["disparate_impact_ratio"] == pytest.approx(ratio, abs=1e-9)
    assert ours["four_fifths_rule_breached"] == (ratio < 0.8)


def test_no_group_selected_gives_no_ratio_where_fairlearn_gives_nan_and_no_breach():
    y, g = np.array([0, 1] * 6), np.array(["a"] * 6 + ["b"] * 6)
    p = np.zeros(12, dtype=int)
    assert math.isnan(demographic_parity_ratio(y, p, sensitive_features=g))
    ours = group_fairness(p == 1, g.astype(object), y == 1, 0.8)
    assert ours["disparate_impact_ratio"] is None and ours["four_fifths_rule_breached"] is False
    assert ours["demographic_parity_difference"] == 0.0


def test_groups_of_fewer_than_five_rows_are_merged_and_never_named():
    values = pd.Series(["a"] * 10 + ["b"] * 8 + ["rare1"] * 2 + ["rare2"] * 1 + [None] * 5)
    labels = group_labels(values)
    assert set(labels) == {"a", "b", SMALL_GROUPS, "__missing__"} and (labels == SMALL_GROUPS).sum() == 3
    y = np.tile([0, 1], 13)[: len(values)]
    p = np.tile([1, 1, 0], 9)[: len(values)]
    frame = pd.DataFrame({"group": values})
    ours = fairness(frame, ("group",), p, y, 1, 0.8)["group"]
    assert "rare1" not in ours["groups"] and ours["groups"][SMALL_GROUPS]["count"] == 3
    assert ours["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=labels), abs=1e-9)


def test_without_labels_only_selection_rates_are_reported():
    frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 5})
    ours = fairness(frame, ("g",), np.array(["yes"] * 7 + ["no"] * 3, dtype=object), None, "yes", 0.8)["g"]
    assert ours["equalized_odds_difference"] is None and ours["groups"]["a"]["tpr"] is None
    assert ours["disparate_impact_ratio"] == pytest.approx(2 / 5)
    assert ours["four_fifths_rule_breached"] is True
