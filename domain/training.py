"""Training jobs: a data scientist's request for AutoML on a registered dataset, and its milestones.

A job is requested (queued), started by a worker, and ends exactly once (domain.jobs): completed with the new
version, failed with the reason, or cancelled by its requester.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from .errors import InvalidInput
from .inputs import check_text
from .jobs import FINAL, JobLifecycle, JobState
from .timed import TimedAggregate

__all__ = ["FINAL", "JobState", "TrainingJob", "check_preprocessing", "check_request"]

TASKS = ("classification", "regression", "clustering")
#: metrics each task may be optimised for (higher is better for every one: errors are searched negated)
METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "balanced_accuracy", "f1", "f1_macro", "log_loss"),
    "regression": ("r2", "rmse", "mae"),
    "clustering": ("silhouette",),
}
#: preprocessing choices: option → allowed values (k_best takes a count)
PREPROCESSING: dict[str, tuple[str, ...]] = {
    "imputation": ("median", "mean", "most_frequent", "constant"),
    "encoding": ("onehot", "ordinal"),
    "scaling": ("standard", "minmax", "robust", "none"),
    "outliers": ("none", "clip"),
    "feature_selection": ("none", "variance", "k_best"),
}
#: target types that can be predicted by each supervised task
TARGET_TYPES = {"classification": {"boolean", "category", "integer", "string"}, "regression": {"integer", "float"}}
MAX_CLASSES = 50
DEFAULT_MAX_BUDGET_S = 3_600


def check_preprocessing(choices: Any) -> dict[str, Any]:
    if choices is None:
        return {}
    if not isinstance(choices, dict):
        raise InvalidInput("preprocessing is a mapping of option to choice")
    out: dict[str, Any] = {}
    for option, value in choices.items():
        if option == "k_best":
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000:
                raise InvalidInput("preprocessing k_best is a number of features from 1 to 1000")
        elif option not in PREPROCESSING:
            raise InvalidInput(f"unknown preprocessing option {option!r}; options are "
                               f"{', '.join([*PREPROCESSING, 'k_best'])}")
        elif value not in PREPROCESSING[option]:
            raise InvalidInput(f"preprocessing {option} is one of {', '.join(PREPROCESSING[option])}, not {value!r}")
        out[option] = value
    return out


def _columns(names: Any, what: str) -> list[str]:
    if names is None:
        return []
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(f"{what} is a list of column names")
    if len(set(names)) != len(names):
        raise InvalidInput(f"{what} names a column twice")
    return list(names)


def check_request(*, schema: dict[str, str], profile: dict[str, Any] | None, task: Any, target: Any, budget: Any,
                  max_budget: float, metric: Any, exclude: Any, protected: Any) -> tuple[list[str], list[str]]:
    """Check a training request against the dataset it names; return (exclude, protected) as lists.

    The dataset's profile, when it has one, lets empty and constant columns be refused here rather than after a
    worker has loaded the data."""
    if task not in TASKS:
        raise InvalidInput(f"task is one of {', '.join(TASKS)}, not {task!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget <= max_budget:
        raise InvalidInput(f"time_budget_seconds must be more than 0 and at most {max_budget:g}")
    if metric is not None and metric not in METRICS[task]:
        raise InvalidInput(f"metric for {task} is one of {', '.join(METRICS[task])}, not {metric!r}")
    exclude, protected = _columns(exclude, "exclude"), _columns(protected, "protected_attributes")
    for column in (*exclude, *protected):
        if column not in schema:
            raise InvalidInput(f"column {column!r} is not in the dataset (its columns: {', '.join(schema)})")
    profile = profile or {}
    if task == "clustering":
        if target is not None:
            raise InvalidInput("clustering learns without a target: leave target out")
    else:
        if not isinstance(target, str) or target not in schema:
            raise InvalidInput(f"target {target!r} is not a column of the dataset")
        if target in exclude or target in protected:
            raise InvalidInput(f"target {target!r} cannot also be excluded or protected")
        kind = schema[target]
        if kind not in TARGET_TYPES[task]:
            raise InvalidInput(f"target {target!r} is {kind}: {task} needs a {' or '.join(sorted(TARGET_TYPES[task]))} target")
        stats = profile.get(target, {})
        if stats.get("missing_share") == 1:
            raise InvalidInput(f"target {target!r} is empty in every row")
        distinct = stats.get("distinct")
        if distinct is not None and distinct < 2:
            raise InvalidInput(f"target {target!r} has a single value: there is nothing to learn"
                               + (" (one class)" if task == "classification" else " (constant)"))
        if task == "classification" and kind in ("integer", "string") and distinct is not None and distinct > MAX_CLASSES:
            raise InvalidInput(f"target {target!r} has {distinct} distinct values; classification takes at most "
                               f"{MAX_CLASSES} classes (is this a regression?)")
    features = [c for c in schema if c != target and c not in exclude and c not in protected]
    if not features:
        raise InvalidInput("no feature columns are left once the target, exclusions and protected attributes are removed")
    empty = [c for c in features if profile.get(c, {}).get("missing_share") == 1]
    if empty:
        raise InvalidInput(f"column {empty[0]!r} is empty in every row; exclude it")
    return exclude, protected


class TrainingJob(JobLifecycle, TimedAggregate):
    """AutoML on one dataset, for one model, from request to its one outcome."""

    what = "training job"

    @event("Requested")
    def __init__(self, dataset_id: UUID, dataset_hash: str, task: str, target: str | None, time_budget_seconds: float,
                 metric: str | None, exclude: list[str], protected_attributes: list[str], preprocessing: dict[str, Any],
                 model_id: UUID | None, model_name: str, requested_by: UUID, requested_by_name: str) -> None:
        self.dataset_id = dataset_id
        self.dataset_hash = dataset_hash
        self.task = task
        self.target = target
        self.time_budget_seconds = time_budget_seconds
        self.metric = metric
        self.exclude = exclude
        self.protected_attributes = protected_attributes
        self.preprocessing = preprocessing
        self.model_id = model_id
        self.model_name = model_name
        self.requested_by = requested_by
        self.requested_by_name = requested_by_name
        self.queued()

    @classmethod
    def request(cls, **fields: Any) -> TrainingJob:
        check_text(fields["model_name"], "a model's name", max_length=200)
        return cls(**fields)

    @event("Started")
    def _started(self, worker: str, attempt: int, lease_seconds: float) -> None:
        self.running(worker, attempt)

    def complete(self, *, worker: str, attempt: int, **result: Any) -> None:
        self.check_worker(worker, attempt)
        self._completed(worker=worker, attempt=attempt, **result)

    @event("Completed")
    def _completed(self, worker: str, attempt: int, version_id: UUID, model_id: UUID, artifact_hash: str, family: str,
                  params: dict[str, Any], metric: str, cv_mean: float, cv_std: float, leaderboard: list[dict[str, Any]],
                  metrics: dict[str, float], candidates: int, seconds: float, greater_is_better: bool = True) -> None:
        self.state = JobState.SUCCEEDED
        self.result = {"version_id": str(version_id), "model_id": str(model_id), "artifact_hash": artifact_hash,
                       "family": family, "params": params, "metric": metric, "cv_mean": cv_mean, "cv_std": cv_std,
                       "leaderboard": leaderboard, "metrics": metrics, "candidates": candidates, "seconds": seconds,
                       "greater_is_better": greater_is_better}

    @event("Failed")
    def _failed(self, worker: str, attempt: int, code: str, reason: str) -> None:
        self.failed(code, reason)

    @event("Cancelled")
    def _cancelled(self, cancelled_by: UUID, cancelled_by_name: str, reason: str) -> None:
        self.cancelled(cancelled_by_name, reason)
