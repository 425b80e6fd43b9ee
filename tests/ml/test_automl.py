"""AutoML on small data with budgets of a few seconds."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from ml.automl import TrainingSpec, train
from ml.errors import TrainingCancelled

from .conftest import CREDIT_SCHEMA, CREDIT_SPEC


def test_binary_classification_beats_a_trivial_baseline(credit_run, credit):
    result, _ = credit_run
    assert result.metric == "roc_auc" and result.cv_mean > 0.65  # a constant score has an AUC of 0.5
    assert result.metrics["cv_roc_auc_mean"] == result.cv_mean
    assert result.metrics["accuracy"] >= (~credit["defaulted"]).mean() - 0.02
    assert {"roc_auc", "accuracy", "f1"} <= set(result.metrics)
    assert result.classes == [False, True]
    predictions = result.pipeline.predict(credit[result.features])
    assert set(predictions.tolist()) <= {False, True}


def test_at_least_four_families_are_evaluated(credit_run):
    result, _ = credit_run
    assert len({row["family"] for row in result.leaderboard}) >= 4
    assert result.leaderboard[0]["family"] == result.family and result.leaderboard[0]["cv_mean"] == result.cv_mean
    scores = [row["cv_mean"] for row in result.leaderboard]
    assert scores == sorted(scores, reverse=True)


def test_the_protected_attribute_is_not_among_the_features(credit_run):
    result, _ = credit_run
    assert "gender" not in result.features and "defaulted" not in result.features
    assert "gender" not in result.input_schema and "gender" not in result.baseline
    assert result.input_schema["applied_on"] == "datetime"


def test_progress_is_reported_after_each_trial_with_increasing_candidates(credit_run):
    result, reports = credit_run
    counts = [r.candidates for r in reports]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == result.candidates
    assert all(r.fraction <= 0.99 for r in reports[:-1]) and reports[-1].fraction == 1.0
    assert all(r.remaining_seconds >= 0 for r in reports)


def test_the_result_is_json_safe_and_describes_the_training_data(credit_run):
    result, _ = credit_run
    json.dumps([result.leaderboard, result.metrics, result.feature_domains, result.baseline, result.params], allow_nan=False)
    assert result.feature_domains["region"]["other_values"] is False
    assert set(result.feature_domains["region"]["categories"]) == {"north", "south", "east", "west"}
    histogram = result.baseline["income"]["histogram"]
    assert len(histogram["edges"]) == 11 and sum(histogram["counts"]) == result.baseline["income"]["n"]
    assert result.baseline["__score__"]["kind"] == "probability"


def test_regression_fits_a_linear_signal(regression_run):
    result, df = regression_run
    assert result.metric == "r2" and result.cv_mean > 0.8
    assert result.metrics["rmse"] > 0 and result.metrics["mae"] > 0 and result.classes is None
    assert result.pipeline.predict(df[result.features]).shape == (len(df),)


def test_clustering_finds_about_as_many_clusters_as_blobs(blobs_run):
    result, df = blobs_run
    assert result.metric == "silhouette" and 3 <= result.metrics["n_clusters"] <= 5
    assert len({row["family"] for row in result.leaderboard}) >= 4
    assert result.pipeline.predict(df).shape == (len(df),)


def test_should_stop_cancels_training_promptly(credit):
    began = time.monotonic()
    with pytest.raises(TrainingCancelled) as e:
        train(credit, CREDIT_SCHEMA, CREDIT_SPEC.__class__(**{**CREDIT_SPEC.__dict__, "time_budget_seconds": 60}),
              should_stop=lambda: time.monotonic() - began > 0.3)
    assert e.value.code == "training_cancelled" and time.monotonic() - began < 10


def test_the_same_seed_and_trials_give_the_same_winner(credit):
    spec = TrainingSpec(task="classification", target="defaulted", time_budget_seconds=0.01, protected_attributes=("gender",))
    first, second = train(credit, CREDIT_SCHEMA, spec), train(credit, CREDIT_SCHEMA, spec)
    assert first.candidates == second.candidates == 1  # the first enqueued default always runs
    assert first.cv_mean == second.cv_mean
    assert np.array_equal(first.pipeline.predict_proba(credit), second.pipeline.predict_proba(credit))


def test_no_value_that_could_single_out_a_person_is_kept_in_what_the_ledger_records():
    from ml.baseline import HASH_BUCKETS, categorical_reference, feature_domains
    from ml.tabular import profile

    rows = 60
    df = pd.DataFrame({"email": [f"person{i}@bank.example" for i in range(rows)],
                       "branch": ["north"] * 30 + ["south"] * 27 + ["tiny-village"] * 3})
    schema = {"email": "string", "branch": "category"}
    recorded = json.dumps([profile(df, schema), feature_domains(df, schema),
                           categorical_reference(df["email"], "string"), categorical_reference(df["branch"])])
    assert "person" not in recorded and "tiny-village" not in recorded, "a free-text value or a rare category is named"
    assert "north" in recorded and "south" in recorded
    hashed = categorical_reference(df["email"], "string")
    assert hashed["hashed"] == HASH_BUCKETS and abs(sum(hashed["frequencies"].values()) - 1) < 1e-5
    assert feature_domains(df, schema) == {"email": {"free_text": True},
                                           "branch": {"categories": ["north", "south"], "other_values": True}}
