"""Every refusal of a training request happens before any fit and says what is wrong."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml.automl import Preprocessing, TrainingSpec, validate
from ml.errors import InvalidTrainingRequest

from .conftest import CREDIT_SCHEMA

SPEC = TrainingSpec(task="classification", target="defaulted", time_budget_seconds=1, protected_attributes=("gender",))


def refusal(df, spec, schema=CREDIT_SCHEMA) -> str:
    with pytest.raises(InvalidTrainingRequest) as e:
        validate(df, schema, spec)
    assert e.value.code == "invalid_training_request"
    return e.value.message


def test_a_sound_request_passes(credit):
    validate(credit, CREDIT_SCHEMA, SPEC)


@pytest.mark.parametrize("change, expected", [
    ({"target": "missing"}, "'missing' is not in the dataset"),
    ({"target": None}, "needs a target"),
    ({"exclude": ("defaulted",)}, "also excluded"),
    ({"protected_attributes": ("defaulted",)}, "also a protected attribute"),
    ({"exclude": ("nope",)}, "excluded column 'nope' is not in the dataset"),
    ({"protected_attributes": ("race",)}, "protected column 'race' is not in the dataset"),
    ({"time_budget_seconds": 0}, "positive number of seconds"),
    ({"time_budget_seconds": float("nan")}, "positive number of seconds"),
    ({"cv_folds": 1}, "cv_folds"),
    ({"task": "ranking"}, "task must be"),
    ({"metric": "r2"}, "does not apply to binary classification"),
    ({"task": "regression"}, "regression needs a numeric target"),
    ({"task": "clustering"}, "clustering takes no target"),
    ({"task": "clustering", "target": None, "preprocessing": Preprocessing(feature_selection="k_best")}, "clustering has none"),
])
def test_a_request_that_does_not_fit_the_data_is_refused(credit, change, expected):
    assert expected in refusal(credit, replace(SPEC, **change))


def test_no_features_left_is_refused(credit):
    spec = replace(SPEC, exclude=tuple(c for c in credit.columns if c not in ("defaulted", "gender")))
    assert "no features are left" in refusal(credit, spec)


def test_an_all_empty_feature_is_refused_by_name(credit):
    df = credit.assign(age=np.nan)
    assert "feature 'age' is empty" in refusal(df, SPEC)


def test_a_constant_target_is_refused(credit):
    assert "single value" in refusal(credit.assign(defaulted=True), SPEC)


def test_a_target_with_missing_values_is_refused(credit):
    df = credit.astype({"defaulted": object})
    df.loc[3, "defaulted"] = None
    assert "missing in 1 rows" in refusal(df, SPEC)


def test_a_continuous_target_is_refused_for_classification(credit):
    assert "continuous float" in refusal(credit, replace(SPEC, target="income"))


def test_a_target_with_too_many_classes_is_refused(credit):
    df = credit.assign(bucket=np.arange(len(credit)) % 60)
    schema = {**CREDIT_SCHEMA, "bucket": "integer"}
    assert "60 classes" in refusal(df, replace(SPEC, target="bucket", exclude=("defaulted",)), schema)


def test_too_few_rows_are_refused(credit):
    assert "at least 10 rows" in refusal(credit.head(9), SPEC)


def test_a_class_rarer_than_the_folds_is_refused_rather_than_folded_silently(credit):
    df = credit.copy()
    df["defaulted"] = False
    df.loc[:2, "defaulted"] = True
    assert "has 3 rows; each class needs at least cv_folds (5)" in refusal(df, SPEC)


def test_a_column_the_schema_does_not_type_is_refused(credit):
    schema = {k: v for k, v in CREDIT_SCHEMA.items() if k != "region"}
    assert "does not type column(s) region" in refusal(credit, SPEC, schema)


def test_the_metric_names_people_use_stand_for_their_scikit_learn_scorers():
    from ml.spec import scorer_name

    assert scorer_name("regression", "rmse") == "neg_root_mean_squared_error"
    assert scorer_name("binary", "log_loss") == "neg_log_loss"
    assert scorer_name("multiclass", "roc_auc") == "roc_auc_ovr" and scorer_name("binary", "roc_auc") == "roc_auc"
