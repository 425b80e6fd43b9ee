"""A model served online: each answer's explanation adds up to the output it attributes, as a batch run's does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from ml.automl import build_pipeline
from ml.online import OTHER, OnlineModel
from ml.spec import TrainingSpec

FEATURES = [f"f{i}" for i in range(15)]


def data(rows: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f: rng.normal(size=rows) for f in FEATURES})
    return frame, (frame.f0 + 0.5 * frame.f1 + rng.normal(size=rows) * 0.3 > 0)


def served(model, task: str = "classification") -> tuple[OnlineModel, pd.DataFrame]:
    frame, label = data()
    target = label if task == "classification" else frame.f0 * 3 + frame.f2
    pipeline = build_pipeline({f: "float" for f in FEATURES}, TrainingSpec(task=task, target="y", time_budget_seconds=1),
                              model).fit(frame, target)
    return OnlineModel(pipeline, FEATURES, task, background=frame.sample(100, random_state=0), top=5), frame


@pytest.mark.parametrize("model", [HistGradientBoostingClassifier(max_iter=30), LogisticRegression(max_iter=300)])
def test_a_classifiers_explanation_adds_up_to_its_log_odds_and_keeps_the_largest_contributions(model):
    online, frame = served(model)
    for answer in online.answer(frame.head(5).to_dict("records")):
        explanation = answer.explanation
        assert explanation["output"] == "log_odds" and len(explanation["contributions"]) == 6  # the top 5 and the rest
        assert OTHER in explanation["contributions"]
        total = explanation["base_value"] + sum(explanation["contributions"].values())
        assert total == pytest.approx(math.log(answer.score / (1 - answer.score)), abs=1e-6)
        assert answer.prediction == (answer.score >= 0.5)
        named = [abs(v) for k, v in explanation["contributions"].items() if k != OTHER]
        assert named == sorted(named, reverse=True)


def test_a_regressors_explanation_adds_up_to_its_prediction():
    online, frame = served(RandomForestRegressor(n_estimators=10, random_state=0), "regression")
    (answer,) = online.answer(frame.head(1).to_dict("records"))
    assert answer.explanation["base_value"] + sum(answer.explanation["contributions"].values()) == pytest.approx(
        answer.prediction, rel=1e-6)


def test_a_model_with_no_fast_explainer_answers_and_says_why_it_is_not_explained():
    online, frame = served(KNeighborsClassifier())
    (answer,) = online.answer(frame.head(1).to_dict("records"))
    assert answer.explanation["contributions"] == {} and "too slow per request" in answer.explanation["note"]
