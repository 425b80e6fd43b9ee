"""Small synthetic frames for the ml tests: the demo credit data (with a category and a date added), blobs, a regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs, make_regression

from govledger.demo_data import FEATURES, credit_data
from ml.automl import Preprocessing, TrainingSpec, train

CREDIT_SCHEMA = {**FEATURES, "region": "category", "applied_on": "datetime", "gender": "category", "defaulted": "boolean"}
# 6 s: every family's default candidate is tried first, and on a CI machine busy with the other half of the suite
# three seconds fitted only three of them.
CREDIT_SPEC = TrainingSpec(task="classification", target="defaulted", time_budget_seconds=6, protected_attributes=("gender",),
                           preprocessing=Preprocessing(outliers="clip"))


def credit_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = credit_data(rng, n)
    df = pd.DataFrame(data.X, columns=list(FEATURES))
    for name, kind in FEATURES.items():
        if kind == "integer":
            df[name] = df[name].astype(int)
    df["region"] = rng.choice(np.array(["north", "south", "east", "west"]), n).astype(object)
    days = rng.integers(0, 700, n)
    df["applied_on"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d").astype(object)
    df["gender"] = data.gender.astype(object)
    df["defaulted"] = data.y.astype(bool)
    return df


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return credit_frame(600)


@pytest.fixture(scope="session")
def credit_run(credit):
    reports = []
    result = train(credit, CREDIT_SCHEMA, CREDIT_SPEC, progress=reports.append)
    return result, reports


@pytest.fixture(scope="session")
def blobs_run():
    X, _ = make_blobs(n_samples=500, centers=4, n_features=3, cluster_std=0.7, random_state=1)
    df = pd.DataFrame(X, columns=["x", "y", "z"])
    return train(df, {"x": "float", "y": "float", "z": "float"},
                 TrainingSpec(task="clustering", target=None, time_budget_seconds=2, random_state=0)), df


@pytest.fixture(scope="session")
def regression_run():
    X, y = make_regression(n_samples=400, n_features=5, noise=10.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(price=y)
    schema = {**{f"f{i}": "float" for i in range(5)}, "price": "float"}
    spec = TrainingSpec(task="regression", target="price", time_budget_seconds=1.5,
                        preprocessing=Preprocessing(encoding="ordinal", scaling="robust", feature_selection="k_best", k_best=4))
    return train(df, schema, spec), df


def fitted(family: str, task: str = "classification", frame: pd.DataFrame | None = None):
    """A pipeline as the product trains it (build_pipeline with a family's default), fitted on credit rows,
    with the BatchSpec and baseline a version would carry."""
    from ml.automl import build_pipeline
    from ml.baseline import feature_baseline, score_baseline
    from ml.batch import BatchSpec
    from ml.families import FAMILIES
    from ml.spec import features_of

    frame = credit_frame(600) if frame is None else frame
    features = features_of(frame, CREDIT_SPEC)
    schema = {f: CREDIT_SCHEMA[f] for f in features}
    (chosen,) = [f for f in FAMILIES[task] if f.name == family]
    pipeline = build_pipeline(schema, CREDIT_SPEC, chosen.build(chosen.default, 0)).fit(frame[features], frame["defaulted"])
    baseline = feature_baseline(frame[features], schema)
    baseline["__score__"] = score_baseline(pipeline, frame[features], task, [False, True])
    spec = BatchSpec(task=task, features=features, input_schema=schema, label_column="defaulted",
                     protected_attributes=("gender",), classes=[False, True], chunk_rows=100)
    return pipeline, spec, baseline


@pytest.fixture(scope="session")
def boosted():
    return fitted("hist_gradient_boosting")


@pytest.fixture(scope="session")
def logistic():
    return fitted("logistic_regression")


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread():
    """As in the AutoML search: on two shared cores, spinning OpenMP threads (HistGradientBoosting, k-nearest
    neighbours) turn a fit or a prediction of a fraction of a second into seconds."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield
