"""Cross-validation fits leave the process for a Dask cluster inside compute_backend."""

from __future__ import annotations

import pandas as pd
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.datasets import make_classification

from ml.automl import TrainingSpec, train
from ml.compute import compute_backend


class FinishedTasks(SchedulerPlugin):
    def __init__(self) -> None:
        self.keys: list[str] = []

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory":
            self.keys.append(str(key))


def small_frame() -> tuple[pd.DataFrame, dict[str, str]]:
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    return pd.DataFrame(X, columns=list("abcd")).assign(label=y), {**{c: "float" for c in "abcd"}, "label": "integer"}


def test_cross_validation_fits_run_on_the_dask_cluster():
    df, schema = small_frame()
    spec = TrainingSpec(task="classification", target="label", time_budget_seconds=0.5, n_jobs=-1)
    # Two threads: joblib runs a one-thread cluster's work sequentially in the caller.
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        tasks = FinishedTasks()
        cluster.scheduler.add_plugin(tasks)
        with compute_backend(cluster.scheduler_address):
            result = train(df, schema, spec)
    assert result.candidates >= 1
    assert any("_fit_and_score" in key for key in tasks.keys), tasks.keys[:5]


def test_without_a_scheduler_the_backend_changes_nothing():
    df, schema = small_frame()
    with compute_backend(None):
        result = train(df, schema, TrainingSpec(task="classification", target="label", time_budget_seconds=0.2))
    assert result.candidates >= 1
