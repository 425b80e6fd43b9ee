"""The model families the search chooses from, each with a sensible default and an Optuna search space.

Sizes are bounded (at most 200 trees, 300 boosting iterations, 500 solver iterations) so that one
fit cannot overrun a time budget by much. Every estimator runs single-threaded: parallelism is
across cross-validation folds (joblib, or a Dask cluster through it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from sklearn.cluster import BisectingKMeans, KMeans, MiniBatchKMeans
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

MIN_CLUSTERS, MAX_CLUSTERS = 2, 10
# Families are listed cheapest first: under a tight budget their enqueued defaults run in this order.


@dataclass(frozen=True)
class Family:
    name: str
    build: Callable[[dict[str, Any], int], Any]  # (params, random_state) -> an unfitted estimator
    default: dict[str, Any]
    suggest: Callable[[optuna.Trial], dict[str, Any]]


def _p(trial: optuna.Trial, family: str, name: str) -> str:
    # Optuna needs one distribution per parameter name, so each family's names carry its prefix.
    return f"{family}__{name}"


def _forest_space(family: str) -> Callable[[optuna.Trial], dict[str, Any]]:
    def suggest(t: optuna.Trial) -> dict[str, Any]:
        return {"n_estimators": t.suggest_int(_p(t, family, "n_estimators"), 20, 200, log=True),
                "max_depth": t.suggest_int(_p(t, family, "max_depth"), 3, 24),
                "min_samples_leaf": t.suggest_int(_p(t, family, "min_samples_leaf"), 1, 20, log=True),
                "max_features": t.suggest_float(_p(t, family, "max_features"), 0.1, 1.0)}
    return suggest


def _hgb_space(family: str) -> Callable[[optuna.Trial], dict[str, Any]]:
    def suggest(t: optuna.Trial) -> dict[str, Any]:
        return {"learning_rate": t.suggest_float(_p(t, family, "learning_rate"), 0.02, 0.3, log=True),
                "max_iter": t.suggest_int(_p(t, family, "max_iter"), 50, 300, log=True),
                "max_leaf_nodes": t.suggest_int(_p(t, family, "max_leaf_nodes"), 8, 64, log=True),
                "min_samples_leaf": t.suggest_int(_p(t, family, "min_samples_leaf"), 5, 100, log=True),
                "l2_regularization": t.suggest_float(_p(t, family, "l2_regularization"), 1e-6, 10.0, log=True)}
    return suggest


def _knn_space(family: str) -> Callable[[optuna.Trial], dict[str, Any]]:
    def suggest(t: optuna.Trial) -> dict[str, Any]:
        return {"n_neighbors": t.suggest_int(_p(t, family, "n_neighbors"), 3, 50, log=True),
                "weights": t.suggest_categorical(_p(t, family, "weights"), ["uniform", "distance"])}
    return suggest


_FOREST_DEFAULT = {"n_estimators": 60, "max_depth": 12, "min_samples_leaf": 2, "max_features": 0.5}
_HGB_DEFAULT = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20, "l2_regularization": 1e-6}
_KNN_DEFAULT = {"n_neighbors": 15, "weights": "distance"}

CLASSIFICATION = (
    Family("logistic_regression", lambda p, rs: LogisticRegression(**p, max_iter=500, random_state=rs), {"C": 1.0},
           lambda t: {"C": t.suggest_float("logistic_regression__C", 1e-3, 1e2, log=True)}),
    Family("hist_gradient_boosting", lambda p, rs: HistGradientBoostingClassifier(**p, early_stopping=False, random_state=rs),
           _HGB_DEFAULT, _hgb_space("hist_gradient_boosting")),
    Family("extra_trees", lambda p, rs: ExtraTreesClassifier(**p, n_jobs=1, random_state=rs), _FOREST_DEFAULT,
           _forest_space("extra_trees")),
    Family("random_forest", lambda p, rs: RandomForestClassifier(**p, n_jobs=1, random_state=rs), _FOREST_DEFAULT,
           _forest_space("random_forest")),
    Family("k_nearest_neighbors", lambda p, rs: KNeighborsClassifier(**p), _KNN_DEFAULT, _knn_space("k_nearest_neighbors")),
)

REGRESSION = (
    Family("ridge", lambda p, rs: Ridge(**p), {"alpha": 1.0},
           lambda t: {"alpha": t.suggest_float("ridge__alpha", 1e-3, 1e3, log=True)}),
    Family("hist_gradient_boosting", lambda p, rs: HistGradientBoostingRegressor(**p, early_stopping=False, random_state=rs),
           _HGB_DEFAULT, _hgb_space("hist_gradient_boosting")),
    Family("extra_trees", lambda p, rs: ExtraTreesRegressor(**p, n_jobs=1, random_state=rs), _FOREST_DEFAULT,
           _forest_space("extra_trees")),
    Family("random_forest", lambda p, rs: RandomForestRegressor(**p, n_jobs=1, random_state=rs), _FOREST_DEFAULT,
           _forest_space("random_forest")),
    Family("k_nearest_neighbors", lambda p, rs: KNeighborsRegressor(**p), _KNN_DEFAULT, _knn_space("k_nearest_neighbors")),
)


def _clusters(family: str) -> Callable[[optuna.Trial], dict[str, Any]]:
    def suggest(t: optuna.Trial) -> dict[str, Any]:
        return {"n_clusters": t.suggest_int(_p(t, family, "n_clusters"), MIN_CLUSTERS, MAX_CLUSTERS)}
    return suggest


# Only families that can assign new rows to a cluster (predict): no Agglomerative, DBSCAN or Birch.
CLUSTERING = (
    Family("kmeans", lambda p, rs: KMeans(**p, n_init=3, random_state=rs), {"n_clusters": 3}, _clusters("kmeans")),
    Family("minibatch_kmeans", lambda p, rs: MiniBatchKMeans(**p, n_init=3, random_state=rs), {"n_clusters": 3},
           _clusters("minibatch_kmeans")),
    Family("bisecting_kmeans", lambda p, rs: BisectingKMeans(**p, random_state=rs), {"n_clusters": 3}, _clusters("bisecting_kmeans")),
    Family("gaussian_mixture",
           lambda p, rs: GaussianMixture(n_components=p["n_clusters"], covariance_type=p["covariance_type"], max_iter=200,
                                         random_state=rs),
           {"n_clusters": 3, "covariance_type": "full"},
           lambda t: {"n_clusters": t.suggest_int("gaussian_mixture__n_clusters", MIN_CLUSTERS, MAX_CLUSTERS),
                      "covariance_type": t.suggest_categorical("gaussian_mixture__covariance_type", ["full", "diag"])}),
)

FAMILIES = {"classification": CLASSIFICATION, "regression": REGRESSION, "clustering": CLUSTERING}


def enqueued_params(family: Family) -> dict[str, Any]:
    """The default trial of `family` in Optuna's parameter names, for study.enqueue_trial."""
    return {"family": family.name, **{f"{family.name}__{k}": v for k, v in family.default.items()}}
