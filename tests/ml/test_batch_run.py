"""run_batch end to end: refusals, progress and cancellation, performance against scikit-learn, determinism,
the baseline when the training rows are not at hand, and the other tasks."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from ml.batch import run_batch, validate_batch
from ml.errors import InvalidBatchRequest, TrainingCancelled

from .conftest import credit_frame


@pytest.fixture(scope="module")
def batch():
    return credit_frame(300, seed=1)


@pytest.fixture(scope="module")
def reference():
    return credit_frame(600)


@pytest.fixture(scope="module")
def boosted_run(boosted, batch, reference):
    pipeline, spec, baseline = boosted
    return run_batch(pipeline, batch, spec, reference=reference[spec.features], baseline=baseline)


def _refusal(frame, spec) -> str:
    with pytest.raises(InvalidBatchRequest) as e:
        validate_batch(frame, spec)
    assert e.value.code == "invalid_batch_request"
    return e.value.message


def test_every_missing_and_mistyped_feature_is_named_in_one_refusal(boosted, batch):
    _, spec, _ = boosted
    frame = batch.drop(columns=["income", "age"]).assign(debt_ratio="high", applied_on="someday",
                                                        late_payments=True)
    message = _refusal(frame, spec)
    assert "missing feature column(s): age, income" in message
    assert "debt_ratio (float expected" in message and "applied_on (datetime expected" in message
    assert "late_payments (integer expected" in message


def test_a_label_column_that_does_not_exist_or_holds_unseen_classes_is_refused(boosted, batch):
    _, spec, _ = boosted
    assert "label column 'defaulted' is not in the batch" in _refusal(batch.drop(columns=["defaulted"]), spec)
    unseen = batch.assign(defaulted=np.resize(np.array(["maybe", "unknown", True], dtype=object), len(batch)))
    assert "classes the version never saw: 'maybe', 'unknown'" in _refusal(unseen, spec)


def test_a_missing_protected_attribute_and_an_empty_batch_are_refused(boosted, batch):
    _, spec, _ = boosted
    assert "protected attribute(s) not in the batch: gender" in _refusal(batch.drop(columns=["gender"]), spec)
    assert "the batch has no rows" in _refusal(batch.iloc[:0], spec)


def test_a_batch_that_fits_passes_and_a_label_is_optional(boosted, batch):
    _, spec, _ = boosted
    validate_batch(batch, spec)
    validate_batch(batch.drop(columns=["defaulted"]), dataclasses.replace(spec, label_column=None))


def test_progress_is_reported_after_each_chunk(boosted, batch):
    pipeline, spec, baseline = boosted
    reports = []
    run_batch(pipeline, batch, spec, reference=None, baseline=baseline, progress=lambda f, n: reports.append((f, n)))
    assert reports == [(1 / 3, 100), (2 / 3, 200), (1.0, 300)]


def test_should_stop_cancels_between_chunks(boosted, batch):
    pipeline, spec, baseline = boosted
    done = []
    with pytest.raises(TrainingCancelled, match="after 200 of 300 rows"):
        run_batch(pipeline, batch, spec, reference=None, baseline=baseline, progress=lambda f, n: done.append(n),
                  should_stop=lambda: len(done) >= 2)
    assert done == [100, 200]


def test_performance_figures_equal_scikit_learns(boosted, boosted_run, batch):
    pipeline, spec, _ = boosted
    figures = json.loads(boosted_run.reports["performance"])["figures"]
    y, X = batch["defaulted"].to_numpy(), batch[spec.features]
    predicted, proba = pipeline.predict(X), pipeline.predict_proba(X)
    assert figures["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert figures["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert figures["precision"] == pytest.approx(precision_score(y, predicted))
    assert figures["recall"] == pytest.approx(recall_score(y, predicted))
    assert figures["f1"] == pytest.approx(f1_score(y, predicted))
    assert figures["log_loss"] == pytest.approx(log_loss(y, proba))
    assert figures["confusion_matrix"] == {"classes": ["False", "True"],
                                           "counts": confusion_matrix(y, predicted, labels=[False, True]).tolist()}
    assert sum(b["count"] for b in figures["calibration"]) == len(batch)
    assert boosted_run.summary["performance"]["roc_auc"] == pytest.approx(figures["roc_auc"])


def test_the_predictions_report_holds_each_rows_prediction_score_and_top_contributions(boosted, boosted_run, batch):
    pipeline, spec, _ = boosted
    lines = boosted_run.reports["predictions"].decode().splitlines()
    assert lines[0] == "row,prediction,score,contributions" and len(lines) == len(batch) + 1
    row, prediction, score, contributions = lines[1].split(",")
    assert row == "0" and prediction == str(pipeline.predict(batch[spec.features].iloc[:1])[0])
    assert float(score) == pytest.approx(pipeline.predict_proba(batch[spec.features].iloc[:1])[0, 1], rel=1e-9)
    assert len(contributions.split(";")) == spec.top_contributions
    assert all(part.split("=")[0] in spec.features for part in contributions.split(";"))


def test_two_runs_give_the_same_bytes_and_a_compact_json_safe_summary(boosted, boosted_run, batch, reference):
    pipeline, spec, baseline = boosted
    again = run_batch(pipeline, batch, spec, reference=reference[spec.features], baseline=baseline)
    assert again.reports == boosted_run.reports and again.summary == boosted_run.summary
    text = json.dumps(boosted_run.summary, allow_nan=False)
    assert len(text) < 32 * 1024 and boosted_run.rows == len(batch)
    assert set(boosted_run.summary) >= {"performance", "drift", "fairness", "explanations"}
    assert boosted_run.summary["explanations"]["explainer"] == "TreeExplainer"
    assert set(boosted_run.summary["fairness"]["gender"]["groups"]) == {"F", "M"}
    assert boosted_run.summary["drift"]["method"] == "reference" and not boosted_run.drift_detected


def test_without_the_training_rows_the_recorded_baseline_is_used(boosted, batch):
    pipeline, spec, baseline = boosted
    result = run_batch(pipeline, batch, spec, reference=None, baseline=baseline)
    drift = json.loads(result.reports["drift"])
    assert result.summary["drift"]["method"] == "baseline" == drift["method"]
    assert drift["features"]["income"]["method"] == "chi_square_baseline_histogram"
    assert drift["features"]["region"]["method"] == "chi_square_baseline_frequencies"
    assert drift["score"]["method"] == "chi_square_baseline_histogram"


def test_a_shifted_batch_is_reported_as_dataset_drift(logistic, batch, reference):
    pipeline, spec, baseline = logistic
    shifted = batch.assign(income=batch["income"] * 3, debt_ratio=batch["debt_ratio"] + 1, age=batch["age"] + 25,
                           late_payments=batch["late_payments"] + 4)
    result = run_batch(pipeline, shifted, spec, reference=reference[spec.features], baseline=baseline)
    assert result.drift_detected and result.summary["drift"]["dataset_drift"]
    assert {"income", "debt_ratio", "age", "late_payments"} <= set(result.summary["drift"]["drifted_features"])


def test_a_skewed_model_breaches_the_four_fifths_rule(logistic, batch):
    pipeline, spec, baseline = logistic
    frame = batch.assign(gender=np.where(pipeline.predict(batch[spec.features]), "A", "B").astype(object))
    result = run_batch(pipeline, frame, spec, reference=None, baseline=baseline)
    assert result.fairness_breach and result.summary["fairness"]["gender"]["disparate_impact_ratio"] == 0.0


def test_regression_reports_its_errors_and_says_fairness_does_not_apply(regression_run):
    from ml.batch import BatchSpec

    result, df = regression_run
    spec = BatchSpec(task="regression", features=result.features, input_schema=result.input_schema, label_column="price",
                     chunk_rows=150)
    out = run_batch(result.pipeline, df, spec, reference=df[result.features], baseline=result.baseline)
    figures, predicted = out.summary["performance"], result.pipeline.predict(df[result.features])
    assert figures["rmse"] == pytest.approx(root_mean_squared_error(df["price"], predicted))
    assert figures["mae"] == pytest.approx(mean_absolute_error(df["price"], predicted))
    assert figures["r2"] == pytest.approx(r2_score(df["price"], predicted))
    assert figures["mape"] == pytest.approx(np.mean(np.abs((df["price"] - predicted) / df["price"])))
    assert json.loads(out.reports["fairness"])["applicable"] is False and out.summary["fairness"] == {}


def test_clustering_reports_silhouette_and_sizes_and_is_not_explained(blobs_run):
    from sklearn.metrics import silhouette_score

    from ml.batch import BatchSpec

    result, df = blobs_run
    spec = BatchSpec(task="clustering", features=result.features, input_schema=result.input_schema)
    out = run_batch(result.pipeline, df, spec, reference=None, baseline=result.baseline)
    figures = json.loads(out.reports["performance"])["figures"]
    clusters = result.pipeline.predict(df)
    assert figures["silhouette"] == pytest.approx(silhouette_score(result.pipeline[:-1].transform(df), clusters))
    assert sum(figures["cluster_sizes"].values()) == len(df)
    assert out.summary["explanations"]["explainer"] is None
    assert "not explained" in json.loads(out.reports["explanations"])["note"]
    assert json.loads(out.reports["drift"])["score"]["method"] == "chi_square_baseline_frequencies"


def test_a_frame_read_from_csv_text_scores_like_the_typed_frame(boosted, batch, tmp_path):
    from ml.tabular import read_csv

    pipeline, spec, baseline = boosted
    path = tmp_path / "batch.csv"
    batch.to_csv(path, index=False)
    frame = read_csv(path, max_bytes=10_000_000)
    first = run_batch(pipeline, batch, spec, reference=None, baseline=baseline)
    second = run_batch(pipeline, frame, spec, reference=None, baseline=baseline)
    assert first.reports["predictions"] == second.reports["predictions"]
    assert isinstance(pd.read_csv(path)["defaulted"].iloc[0], (bool, np.bool_))
