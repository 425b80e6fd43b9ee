"""AutoML: an Optuna search over model families and their parameters under a time budget.

Every family's default is evaluated first (enqueued trials), then the TPE sampler takes over until
the budget is spent or the caller cancels. Classification and regression score candidates by
cross-validation on at most 20,000 sampled rows (cross_validate with n_jobs, so a surrounding joblib Dask backend moves the fold
fits to a cluster); clustering scores by silhouette on at most 5,000 sampled rows. The winner is
refitted on all rows as one Pipeline: preprocess → select → model.

Datetime features enter as days since 1970-01-01. Protected attributes and excluded columns never
enter the features.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import (
    calinski_harabasz_score,
    f1_score,
    make_scorer,
    precision_score,
    recall_score,
    silhouette_score,
)
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from .baseline import feature_baseline, feature_domains, score_baseline
from .errors import TrainingCancelled, TrainingFailed
from .families import FAMILIES, Family, enqueued_params
from .preprocess import Preprocessing, column_transformer, selector
from .spec import (
    METRICS,
    Progress,
    TrainingResult,
    TrainingSpec,
    features_of,
    json_params,
    metric_of,
    problem_kind,
    public_metric,
    validate,
)

__all__ = ["METRICS", "Preprocessing", "Progress", "TrainingResult", "TrainingSpec", "train", "validate"]

CLUSTER_SAMPLE_ROWS = 5_000
#: Candidates are cross-validated on at most this many sampled rows (stratified for classification), so that
#: one candidate on a large table cannot take the whole budget; the winner is refitted on every row.
SEARCH_ROWS = 20_000
LEADERBOARD_SIZE = 50


def build_pipeline(schema: dict[str, str], spec: TrainingSpec, model: Any) -> Pipeline:
    return Pipeline([("preprocess", column_transformer(schema, spec.preprocessing)),
                     ("select", selector(spec.preprocessing, spec.task)), ("model", model)])


def _scorers(kind: str, metric: str, classes: list | None) -> dict[str, Any]:
    """The search metric as "score", plus the standard figures reported for the winner."""
    if kind == "binary":
        positive = classes[1]
        named = {"f1": make_scorer(f1_score, pos_label=positive), "precision": make_scorer(precision_score, pos_label=positive),
                 "recall": make_scorer(recall_score, pos_label=positive)}
        standard = {"roc_auc": "roc_auc", "accuracy": "accuracy", "f1": named["f1"]}
    elif kind == "multiclass":
        named = {}
        standard = {"roc_auc": "roc_auc_ovr", "accuracy": "accuracy", "f1": "f1_macro"}
    else:
        named = {}
        standard = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}
    return {"score": named.get(metric, metric), **standard}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class _Search:
    """One study's objective and callback: keeps the clock, the cancellation check and the progress reports."""

    def __init__(self, spec: TrainingSpec, families: tuple[Family, ...], score: Callable[[Any], tuple[float, float, dict]],
                 progress: Callable[[Progress], None] | None, should_stop: Callable[[], bool] | None, start: float) -> None:
        self.spec, self.families, self.score = spec, {f.name: f for f in families}, score
        self.progress, self.should_stop, self.start = progress, should_stop, start
        self.sign = 1

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def check_cancelled(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise TrainingCancelled(f"training was cancelled after {self.elapsed():.1f} s")

    def objective(self, trial: optuna.Trial) -> float:
        self.check_cancelled()
        family = self.families[trial.suggest_categorical("family", list(self.families))]
        params = family.suggest(trial)
        began = time.monotonic()
        mean, std, figures = self.score(family.build(params, self.spec.random_state))
        trial.set_user_attr("params", json_params(params))
        trial.set_user_attr("fit_seconds", time.monotonic() - began)
        trial.set_user_attr("cv_std", std)
        trial.set_user_attr("figures", figures)
        return mean  # NaN marks the trial failed

    def callback(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.check_cancelled()
        elapsed = self.elapsed()
        if self.progress is not None:
            best = _best(study)
            self.progress(Progress(fraction=min(elapsed / self.spec.time_budget_seconds, 0.99), candidates=_finished(study),
                                   best_score=self.sign * best.value if best else None, best_family=best.params["family"] if best else None,
                                   elapsed_seconds=elapsed, remaining_seconds=max(self.spec.time_budget_seconds - elapsed, 0.0)))
        if elapsed >= self.spec.time_budget_seconds:
            study.stop()


def _finished(study: optuna.Study) -> int:
    # Enqueued trials wait in study.trials before they run; only finished ones are candidates.
    return sum(t.state.is_finished() for t in study.trials)


def _completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    done = _completed(study)
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def _leaderboard(study: optuna.Study) -> list[dict]:
    """Distinct candidates, best first, at most LEADERBOARD_SIZE; every family's best is kept even when another
    family's candidates would fill the board (the sampler repeats a good candidate many times)."""
    ranked = sorted(_completed(study), key=lambda t: (-t.value, t.number))
    distinct: dict[str, optuna.trial.FrozenTrial] = {}
    for trial in ranked:
        distinct.setdefault(json.dumps([trial.params["family"], trial.user_attrs["params"]], sort_keys=True), trial)
    trials = list(distinct.values())
    best_of_family = {t.params["family"]: t for t in reversed(trials)}
    kept = set(map(id, best_of_family.values()))
    kept |= set(map(id, [t for t in trials if id(t) not in kept][:max(LEADERBOARD_SIZE - len(kept), 0)]))
    return [{"family": t.params["family"], "params": t.user_attrs["params"], "cv_mean": float(t.value),
             "cv_std": t.user_attrs["cv_std"], "fit_seconds": round(t.user_attrs["fit_seconds"], 3)}
            for t in trials if id(t) in kept]


def _supervised_scorer(X: pd.DataFrame, y: np.ndarray, schema: dict[str, str], spec: TrainingSpec, kind: str, metric: str,
                       classes: list | None) -> Callable[[Any], tuple[float, float, dict]]:
    splitter = (StratifiedKFold if kind in ("binary", "multiclass") else KFold)(
        n_splits=spec.cv_folds, shuffle=True, random_state=spec.random_state)
    scoring = _scorers(kind, metric, classes)
    if len(X) > SEARCH_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=SEARCH_ROWS, random_state=spec.random_state,
                                      stratify=y if kind in ("binary", "multiclass") else None)

    def score(model: Any) -> tuple[float, float, dict]:
        cv = cross_validate(build_pipeline(schema, spec, model), X, y, cv=splitter, scoring=scoring, n_jobs=spec.n_jobs,
                            error_score=np.nan)
        figures = {name: (float(np.mean(cv[f"test_{name}"])), float(np.std(cv[f"test_{name}"]))) for name in scoring}
        mean, std = figures.pop("score")
        return mean, std, figures
    return score


def _cluster_scorer(X: pd.DataFrame, schema: dict[str, str], spec: TrainingSpec,
                    metric: str) -> Callable[[Any], tuple[float, float, dict]]:
    sample = X.sample(n=min(len(X), CLUSTER_SAMPLE_ROWS), random_state=spec.random_state)
    prepared = Pipeline([("preprocess", column_transformer(schema, spec.preprocessing)),
                         ("select", selector(spec.preprocessing, spec.task))]).fit_transform(sample)
    measure = silhouette_score if metric == "silhouette" else calinski_harabasz_score

    def score(model: Any) -> tuple[float, float, dict]:
        labels = model.fit(prepared).predict(prepared)
        found = len(np.unique(labels))
        if found < 2:
            return math.nan, 0.0, {}
        return float(measure(prepared, labels)), 0.0, {"n_clusters": (float(found), 0.0)}
    return score


def _winner_metrics(best: optuna.trial.FrozenTrial, metric: str, kind: str) -> dict[str, float]:
    metrics = {f"cv_{metric}_mean": float(best.value), f"cv_{metric}_std": float(best.user_attrs["cv_std"])}
    for name, (mean, _std) in best.user_attrs["figures"].items():
        # Errors are scored negated (greater is better); report them as the plain error.
        value = -mean if name in ("rmse", "mae") else mean
        if math.isfinite(value):
            metrics[name] = value
    if kind == "clustering":
        metrics[metric] = float(best.value)
    return metrics


def _labels(y: pd.Series) -> np.ndarray:
    # Mixed or text labels become str so they sort; booleans and numbers keep their type.
    return y.astype(str).to_numpy(dtype=object) if y.dtype == object else y.to_numpy()


def train(df: pd.DataFrame, schema: dict[str, str], spec: TrainingSpec, *, progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainingResult:
    """Search families and parameters for `time_budget_seconds`, refit the best on all rows and describe it.

    Raises InvalidTrainingRequest (see validate) before fitting anything, TrainingCancelled when
    should_stop() turns True (checked before and after each trial), TrainingFailed if no candidate fits.
    """
    start = time.monotonic()
    validate(df, schema, spec)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed (NaN) trials are expected; the leaderboard omits them
    kind, features = problem_kind(df, spec), features_of(df, spec)
    metric, feature_schema = metric_of(kind, spec), {c: schema[c] for c in features}
    X = df[features]
    y, classes = None, None
    if spec.task != "clustering":
        y = _labels(df[spec.target])
        if spec.task == "classification":
            classes = [v.item() if hasattr(v, "item") else v for v in np.unique(y)]
    score = (_cluster_scorer(X, feature_schema, spec, metric) if spec.task == "clustering"
             else _supervised_scorer(X, y, feature_schema, spec, kind, metric, classes))
    families = FAMILIES[spec.task]
    search = _Search(spec, families, score, progress, should_stop, start)
    search.sign = public_metric(metric)[1]  # progress reports the metric as people read it (an RMSE, not its negation)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=spec.random_state))
    for family in families:
        study.enqueue_trial(enqueued_params(family))
    # One OpenMP thread per fit: parallelism is across folds, and HistGradientBoosting's OpenMP threads
    # spin-wait on a busy machine, turning a 0.05 s fit into seconds.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore")  # convergence, k_best wider than the data, NaN trials: the leaderboard says enough
        study.optimize(search.objective, timeout=max(spec.time_budget_seconds - search.elapsed(), 0.001),
                       callbacks=[search.callback], gc_after_trial=False)
        best = _best(study)
        if best is None:
            raise TrainingFailed(f"none of the {_finished(study)} candidates could be fitted")
        search.check_cancelled()
        family = search.families[best.params["family"]]
        params = best.user_attrs["params"]
        pipeline = build_pipeline(feature_schema, spec, family.build(params, spec.random_state))
        pipeline.fit(X, y)
    metrics = _winner_metrics(best, metric, kind)
    if spec.task == "clustering":
        metrics["n_clusters"] = float(len(np.unique(pipeline.predict(X))))
    baseline = feature_baseline(X, feature_schema)
    baseline["__score__"] = score_baseline(pipeline, X, spec.task, classes)
    elapsed = search.elapsed()
    name, sign = public_metric(metric)
    if progress is not None:
        progress(Progress(fraction=1.0, candidates=_finished(study), best_score=sign * float(best.value),
                          best_family=family.name, elapsed_seconds=elapsed,
                          remaining_seconds=max(spec.time_budget_seconds - elapsed, 0.0)))
    leaderboard = [{**entry, "cv_mean": sign * entry["cv_mean"]} for entry in _leaderboard(study)]
    return TrainingResult(pipeline=pipeline, family=family.name, params=params, metric=name, cv_mean=sign * float(best.value),
                          cv_std=float(best.user_attrs["cv_std"]), leaderboard=leaderboard, metrics=metrics,
                          features=features, input_schema=feature_schema, feature_domains=feature_domains(X, feature_schema),
                          baseline=baseline, candidates=_finished(study), classes=classes, greater_is_better=sign > 0)
