"""SHAP local accuracy on the pipelines the product trains: base value + contributions = the model's margin."""

from __future__ import annotations

import numpy as np
import pytest

from ml.explain import column_owners, make_explainer, top_contributions

from .conftest import credit_frame, fitted


def _explain(pipeline, spec, rows):
    X = credit_frame(rows, seed=5)[spec.features]
    encoded = pipeline[:-1].transform(X)
    explainer = make_explainer(pipeline, spec.features, spec.task, encoded, 0)
    contributions, base = explainer.explain(encoded, None)
    return explainer, encoded, contributions, base


def test_boosted_trees_add_up_to_the_log_odds_of_the_positive_class(boosted):
    pipeline, spec, _ = boosted
    explainer, encoded, contributions, base = _explain(pipeline, spec, 80)
    assert explainer.name == "TreeExplainer" and explainer.output == "log_odds"
    margin = pipeline[-1].decision_function(encoded)
    assert np.allclose(base + contributions.sum(axis=1), margin, atol=1e-6)
    assert contributions.shape == (80, len(spec.features))


def test_a_random_forest_adds_up_to_the_probability_of_the_positive_class():
    pipeline, spec, _ = fitted("random_forest")
    explainer, encoded, contributions, base = _explain(pipeline, spec, 60)
    assert explainer.output == "probability"
    assert np.allclose(base + contributions.sum(axis=1), pipeline[-1].predict_proba(encoded)[:, 1], atol=1e-6)


def test_logistic_regression_adds_up_to_its_log_odds_with_one_hot_columns_summed_back(logistic):
    pipeline, spec, _ = logistic
    explainer, encoded, contributions, base = _explain(pipeline, spec, 80)
    assert explainer.name == "LinearExplainer" and explainer.output == "log_odds"
    assert encoded.shape[1] > len(spec.features)  # "region" became one column per value
    assert np.allclose(base + contributions.sum(axis=1), pipeline[-1].decision_function(encoded), atol=1e-6)
    owners = column_owners(pipeline[:-1], spec.features)
    assert owners.sum(axis=0)[spec.features.index("region")] == 4 and owners.sum() == encoded.shape[1]


def test_a_model_without_a_dedicated_explainer_is_explained_by_permutation_on_a_bounded_number_of_rows():
    pipeline, spec, _ = fitted("k_nearest_neighbors", frame=credit_frame(150))
    explainer, encoded, contributions, base = _explain(pipeline, spec, 5)
    assert explainer.name == "PermutationExplainer" and explainer.explain_rows == 100
    assert np.allclose(base + contributions.sum(axis=1), pipeline[-1].predict_proba(encoded)[:, 1], atol=1e-6)


def test_top_contributions_name_the_largest_by_magnitude_in_feature_order_on_ties():
    values = np.array([[0.1, -0.5, 0.5, 0.0]])
    assert top_contributions(values, ["a", "b", "c", "d"], 3) == ["b=-0.5;c=0.5;a=0.1"]
    assert top_contributions(values, ["a", "b", "c", "d"], 0) == [""]


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logistic_regression"])
def test_multiclass_rows_are_explained_for_their_predicted_class(family):
    frame = credit_frame(300)
    frame["defaulted"] = np.where(frame["late_payments"] > 1, "late", np.where(frame["defaulted"], "yes", "no")).astype(object)
    pipeline, spec, _ = fitted(family, frame=frame)
    X = frame[spec.features]
    encoded = pipeline[:-1].transform(X)
    model = pipeline[-1]
    predicted = np.searchsorted(model.classes_, model.predict(encoded))
    contributions, base = make_explainer(pipeline, spec.features, "classification", encoded, 0).explain(encoded, predicted)
    margins = model.decision_function(encoded)[np.arange(len(X)), predicted]
    assert np.allclose(base + contributions.sum(axis=1), margins, atol=1e-6)
