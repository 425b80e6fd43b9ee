"""Drift figures checked against scipy on known shifted and unshifted samples, PSI bands and the dataset share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from ml.baseline import feature_baseline, hash_bucket
from ml.batch import Thresholds
from ml.drift import dataset_drift, feature_drift, psi, psi_band

T = Thresholds()
rng = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def _same_samples_in_any_order():
    """Each test draws the same samples whichever worker runs it, after whichever others."""
    global rng
    rng = np.random.default_rng(3)


def _numeric(n_ref, n_cur, shift):
    return pd.Series(rng.normal(0, 1, n_ref)), pd.Series(rng.normal(shift, 1, n_cur))


@pytest.mark.parametrize("shift,drifted", [(0.0, False), (1.0, True)])
def test_a_small_reference_uses_the_two_sample_ks_test(shift, drifted):
    ref, cur = _numeric(500, 400, shift)
    entry = feature_drift(cur, "float", T, reference=ref, small=True, recorded=None)
    expected = ks_2samp(ref.to_numpy(), cur.to_numpy())
    assert entry["method"] == "ks" and entry["drifted"] is drifted
    assert entry["statistic"] == pytest.approx(expected.statistic) and entry["p_value"] == pytest.approx(expected.pvalue)


@pytest.mark.parametrize("shift,drifted", [(0.0, False), (0.5, True)])
def test_a_large_reference_uses_the_wasserstein_distance_in_reference_standard_deviations(shift, drifted):
    ref, cur = _numeric(5000, 3000, shift)
    entry = feature_drift(cur, "float", T, reference=ref, small=False, recorded=None)
    expected = wasserstein_distance(ref, cur) / np.std(ref.to_numpy())
    assert entry["method"] == "wasserstein" and entry["distance"] == pytest.approx(expected) and entry["drifted"] is drifted


def test_a_constant_reference_is_normed_by_the_floor_so_any_move_drifts():
    ref, cur = pd.Series([2.0] * 2000), pd.Series([2.0] * 1000 + [3.0] * 10)
    entry = feature_drift(cur, "float", T, reference=ref, small=False, recorded=None)
    assert entry["distance"] == pytest.approx(wasserstein_distance(ref, cur) / 1e-3) and entry["drifted"]
    same = feature_drift(pd.Series([2.0] * 50), "float", T, reference=ref, small=False, recorded=None)
    assert same["distance"] == 0.0 and not same["drifted"]


def _categories(n, shares):
    return pd.Series(rng.choice(["a", "b", "c"], n, p=shares)).astype(object)


@pytest.mark.parametrize("shares,drifted", [((0.5, 0.3, 0.2), False), ((0.2, 0.3, 0.5), True)])
def test_a_small_reference_uses_chi_square_on_the_contingency_table(shares, drifted):
    ref, cur = _categories(800, (0.5, 0.3, 0.2)), _categories(600, shares)
    entry = feature_drift(cur, "category", T, reference=ref, small=True, recorded=None)
    table = [[(ref == v).sum() for v in "abc"], [(cur == v).sum() for v in "abc"]]
    statistic, p_value = chi2_contingency(table)[:2]
    assert entry["method"] == "chi_square" and entry["drifted"] is drifted
    assert entry["statistic"] == pytest.approx(statistic) and entry["p_value"] == pytest.approx(p_value)


def test_a_category_never_seen_in_training_is_its_own_column_with_no_reference_rows():
    ref = pd.Series(["a"] * 300 + ["b"] * 300, dtype=object)
    cur = pd.Series(["a"] * 100 + ["b"] * 80 + ["new"] * 20, dtype=object)
    entry = feature_drift(cur, "category", T, reference=ref, small=True, recorded=None)
    assert entry["p_value"] == pytest.approx(chi2_contingency([[300, 300, 0], [100, 80, 20]])[1]) and entry["drifted"]


@pytest.mark.parametrize("shares,drifted", [((0.5, 0.3, 0.2), False), ((0.3, 0.3, 0.4), True)])
def test_a_large_reference_uses_the_jensen_shannon_distance_base_2(shares, drifted):
    ref, cur = _categories(5000, (0.5, 0.3, 0.2)), _categories(4000, shares)
    entry = feature_drift(cur, "category", T, reference=ref, small=False, recorded=None)
    p = np.array([(ref == v).mean() for v in "abc"])
    q = np.array([(cur == v).mean() for v in "abc"])
    assert entry["method"] == "jensen_shannon" and entry["distance"] == pytest.approx(jensenshannon(p, q, base=2))
    assert entry["drifted"] is drifted


def test_free_text_is_compared_through_its_hash_buckets():
    ref = pd.Series([f"person{i}@bank.example" for i in range(600)], dtype=object)
    cur = pd.Series([f"person{i}@bank.example" for i in range(600, 1000)], dtype=object)
    entry = feature_drift(cur, "string", T, reference=ref, small=True, recorded=None)
    buckets = sorted(set(ref.map(hash_bucket)) | set(cur.map(hash_bucket)))
    table = [[(ref.map(hash_bucket) == b).sum() for b in buckets], [(cur.map(hash_bucket) == b).sum() for b in buckets]]
    assert entry["method"] == "chi_square" and entry["p_value"] == pytest.approx(chi2_contingency(table)[1])
    assert entry["drifted"] is (entry["p_value"] < T.p_value)


def test_psi_follows_its_formula_and_its_bands():
    ref, cur = np.array([0.25, 0.25, 0.5]), np.array([0.5, 0.25, 0.25])
    assert psi(ref, cur) == pytest.approx(np.sum((cur - ref) * np.log(cur / ref)))
    assert [psi_band(v, T) for v in (0.05, 0.1, 0.2, 0.25, 1.0)] == ["stable", "warning", "warning", "drift", "drift"]
    ref_values, cur_values = _numeric(2000, 2000, 0.0)
    assert feature_drift(cur_values, "float", T, reference=ref_values, small=False, recorded=None)["psi_band"] == "stable"
    shifted = feature_drift(_numeric(1, 2000, 1.0)[1], "float", T, reference=ref_values, small=False, recorded=None)
    assert shifted["psi_band"] == "drift" and shifted["psi"] > 0.25


def _frame(n, shift):
    return pd.DataFrame({"x": rng.normal(shift, 1, n), "y": rng.normal(shift, 1, n), "z": rng.normal(0, 1, n),
                         "c": np.resize(np.array(["a", "b", "b"], dtype=object), n)})


SCHEMA = {"x": "float", "y": "float", "z": "float", "c": "category"}


def test_dataset_drift_is_the_share_of_drifted_features_against_the_threshold():
    reference = _frame(800, 0.0)
    report = dataset_drift(_frame(500, 1.0), SCHEMA, T, reference=reference, baseline={})
    assert report["drifted_features"] == ["x", "y"] and report["share_drifted"] == 0.5 and report["dataset_drift"]
    stricter = dataset_drift(_frame(500, 1.0), SCHEMA, Thresholds(dataset_share=0.6), reference=reference, baseline={})
    assert stricter["share_drifted"] == 0.5 and not stricter["dataset_drift"]
    assert not dataset_drift(_frame(500, 0.0), SCHEMA, T, reference=reference, baseline={})["dataset_drift"]


def test_without_a_reference_the_recorded_baseline_is_used_and_named_per_feature():
    baseline = feature_baseline(_frame(3000, 0.0), SCHEMA)
    steady = dataset_drift(_frame(500, 0.0), SCHEMA, T, reference=None, baseline=baseline)
    assert steady["method"] == "baseline" and steady["drifted_features"] == []
    assert steady["features"]["x"]["method"] == "chi_square_baseline_histogram"
    assert steady["features"]["c"]["method"] == "chi_square_baseline_frequencies"
    shifted = dataset_drift(_frame(500, 1.0), SCHEMA, T, reference=None, baseline=baseline)
    assert shifted["drifted_features"] == ["x", "y"] and shifted["features"]["x"]["psi_band"] == "drift"


def test_a_feature_without_values_is_not_tested_and_does_not_drift():
    entry = feature_drift(pd.Series([np.nan] * 5), "float", T, reference=pd.Series([1.0, 2.0]), small=True, recorded=None)
    assert entry["method"] == "none" and entry["drifted"] is False
