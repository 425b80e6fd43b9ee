"""What a training request says and what it returns, and the checks run before any model is fitted."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sklearn.pipeline import Pipeline

from .errors import InvalidTrainingRequest
from .families import MAX_CLUSTERS
from .preprocess import Preprocessing

MAX_CLASSES = 50
MAX_FOLDS = 20
PROBLEM_KINDS = ("binary", "multiclass", "regression", "clustering")

#: Metrics a request may name, per kind of problem; the first is the default. All are "greater is better".
METRICS = {
    "binary": ("roc_auc", "accuracy", "balanced_accuracy", "f1", "f1_macro", "precision", "recall", "neg_log_loss"),
    "multiclass": ("f1_macro", "accuracy", "balanced_accuracy", "f1_weighted", "roc_auc_ovr", "neg_log_loss"),
    "regression": ("r2", "neg_root_mean_squared_error", "neg_mean_absolute_error", "neg_mean_squared_error"),
    "clustering": ("silhouette", "calinski_harabasz"),
}


@dataclass(frozen=True)
class TrainingSpec:
    task: Literal["classification", "regression", "clustering"]
    target: str | None  # required for classification/regression, None for clustering
    time_budget_seconds: float
    metric: str | None = None  # None: METRICS[kind][0]
    exclude: tuple[str, ...] = ()
    protected_attributes: tuple[str, ...] = ()  # kept out of the features, recorded for fairness
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    cv_folds: int = 5
    random_state: int = 0
    n_jobs: int = 1


@dataclass(frozen=True)
class Progress:
    fraction: float
    candidates: int
    best_score: float | None
    best_family: str | None
    elapsed_seconds: float
    remaining_seconds: float


@dataclass(frozen=True)
class TrainingResult:
    pipeline: Pipeline  # fitted on all rows, preprocessing included; takes a DataFrame of `features`
    family: str
    params: dict
    metric: str
    cv_mean: float
    cv_std: float
    leaderboard: list[dict]  # [{"family", "params", "cv_mean", "cv_std", "fit_seconds"}], best first, at most 50
    metrics: dict[str, float]
    features: list[str]
    input_schema: dict[str, str]
    feature_domains: dict[str, dict]
    baseline: dict[str, dict]
    candidates: int
    classes: list | None
    greater_is_better: bool = True  # False for errors (rmse, mae, log_loss): cv_mean and the leaderboard are errors then


def features_of(df: pd.DataFrame, spec: TrainingSpec) -> list[str]:
    """The input columns in frame order: all but the target, the excluded and the protected attributes."""
    dropped = {spec.target, *spec.exclude, *spec.protected_attributes}
    return [str(c) for c in df.columns if c not in dropped]


def problem_kind(df: pd.DataFrame, spec: TrainingSpec) -> str:
    if spec.task != "classification":
        return spec.task
    return "binary" if df[spec.target].nunique() == 2 else "multiclass"


#: The names people use for metrics whose scikit-learn scorer is named otherwise (errors are scored negated, so that
#: higher is better for every metric); for more than two classes, the one-vs-rest AUC and the macro F1.
ALIASES = {"log_loss": "neg_log_loss", "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error",
           "mse": "neg_mean_squared_error"}
MULTICLASS_ALIASES = {"roc_auc": "roc_auc_ovr", "f1": "f1_macro"}


def public_metric(scorer: str) -> tuple[str, int]:
    """The name people use for a scorer, and the sign that turns its score into that metric (errors are searched
    negated, so that higher is better for every scorer; reported, an RMSE is positive and lower is better)."""
    names = {v: k for k, v in ALIASES.items()}
    return names.get(scorer, scorer), -1 if scorer.startswith("neg_") else 1


def scorer_name(kind: str, metric: str | None) -> str | None:
    """The scikit-learn scorer a metric's name stands for in a problem of this kind."""
    if metric is None:
        return None
    if kind == "multiclass":
        metric = MULTICLASS_ALIASES.get(metric, metric)
    return ALIASES.get(metric, metric)


def metric_of(kind: str, spec: TrainingSpec) -> str:
    return scorer_name(kind, spec.metric) or METRICS[kind][0]


def _refuse(message: str) -> None:
    raise InvalidTrainingRequest(message)


def _check_request(spec: TrainingSpec) -> None:
    if spec.task not in ("classification", "regression", "clustering"):
        _refuse(f"task must be classification, regression or clustering, not {spec.task!r}")
    budget = spec.time_budget_seconds
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not math.isfinite(budget) or budget <= 0:
        _refuse(f"the time budget must be a positive number of seconds, not {budget!r}")
    if not isinstance(spec.cv_folds, int) or not 2 <= spec.cv_folds <= MAX_FOLDS:
        _refuse(f"cv_folds must be an integer from 2 to {MAX_FOLDS}, not {spec.cv_folds!r}")
    if spec.n_jobs == 0:
        _refuse("n_jobs must be a positive number of workers or -1 for all of them, not 0")
    options = spec.preprocessing
    if options.feature_selection == "k_best" and spec.task == "clustering":
        _refuse("k_best feature selection scores features against a target; clustering has none")
    if options.feature_selection == "k_best" and not (isinstance(options.k_best, int) and options.k_best >= 1):
        _refuse(f"k_best must be a positive integer, not {options.k_best!r}")


def _check_columns(df: pd.DataFrame, schema: dict[str, str], spec: TrainingSpec) -> None:
    missing_from_schema = [str(c) for c in df.columns if c not in schema]
    if missing_from_schema:
        _refuse(f"the schema does not type column(s) {', '.join(missing_from_schema[:10])}")
    for role, names in (("excluded", spec.exclude), ("protected", spec.protected_attributes)):
        for name in names:
            if name not in df.columns:
                _refuse(f"the {role} column {name!r} is not in the dataset")
    if spec.task == "clustering":
        if spec.target is not None:
            _refuse("clustering takes no target; leave target unset")
        return
    if not spec.target:
        _refuse(f"{spec.task} needs a target column")
    if spec.target not in df.columns:
        _refuse(f"the target {spec.target!r} is not in the dataset")
    if spec.target in spec.exclude:
        _refuse(f"the target {spec.target!r} is also excluded")
    if spec.target in spec.protected_attributes:
        _refuse(f"the target {spec.target!r} is also a protected attribute")


def _check_features(df: pd.DataFrame, spec: TrainingSpec) -> None:
    features = features_of(df, spec)
    if not features:
        _refuse("no features are left once the target, excluded and protected columns are set aside")
    empty = [c for c in features if df[c].isna().all()]
    if empty:
        _refuse(f"feature {empty[0]!r} is empty in every row; exclude it")


def _check_rows(df: pd.DataFrame, schema: dict[str, str], spec: TrainingSpec) -> None:
    least = 2 * MAX_CLUSTERS if spec.task == "clustering" else 2 * spec.cv_folds
    if len(df) < least:
        _refuse(f"{spec.task} with {spec.cv_folds} folds needs at least {least} rows; the dataset has {len(df)}")
    if spec.task == "clustering":
        return
    y = df[spec.target]
    if y.isna().any():
        _refuse(f"the target {spec.target!r} is missing in {int(y.isna().sum())} rows")
    distinct = y.nunique()
    if distinct < 2:
        _refuse(f"the target {spec.target!r} has a single value; there is nothing to learn")
    kind = schema.get(spec.target)
    if spec.task == "regression" and (kind not in ("integer", "float") or not pd.api.types.is_numeric_dtype(y.dtype)
                                      or pd.api.types.is_bool_dtype(y.dtype)):
        _refuse(f"regression needs a numeric target; {spec.target!r} is {kind}")
    if spec.task == "classification":
        if kind == "float":
            _refuse(f"the target {spec.target!r} is a continuous float; use regression, or classify a category")
        if distinct > MAX_CLASSES:
            _refuse(f"the target {spec.target!r} has {distinct} classes; classification allows at most {MAX_CLASSES}")
        # Refused rather than silently using fewer folds: every fold must see every class.
        counts = y.astype(str).value_counts()
        if counts.min() < spec.cv_folds:
            _refuse(f"class {counts.index[-1]!r} of {spec.target!r} has {int(counts.min())} rows; each class needs at "
                    f"least cv_folds ({spec.cv_folds})")


def _check_metric(df: pd.DataFrame, spec: TrainingSpec) -> None:
    kind = problem_kind(df, spec)
    if spec.metric is not None and scorer_name(kind, spec.metric) not in METRICS[kind]:
        _refuse(f"metric {spec.metric!r} does not apply to {kind} {spec.task}; choose one of {', '.join(METRICS[kind])}")


def validate(df: pd.DataFrame, schema: dict[str, str], spec: TrainingSpec) -> None:
    """Raise InvalidTrainingRequest if `spec` cannot be trained on `df`; runs before any fit."""
    _check_request(spec)
    _check_columns(df, schema, spec)
    _check_features(df, spec)
    _check_rows(df, schema, spec)
    _check_metric(df, spec)


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
