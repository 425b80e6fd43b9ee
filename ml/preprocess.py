"""The preprocessing half of a training pipeline: one ColumnTransformer plus an optional feature selector.

The small transformers here are top-level classes, not FunctionTransformer lambdas, so a saved
pipeline holds only named types: skops lists them as untrusted ("ml.preprocess.Clipper", …) until
the artifact store's TRUSTED_TYPES names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import (
    SelectKBest,
    VarianceThreshold,
    f_classif,
    f_regression,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from .tabular import epoch_days

#: Categories kept per column by the encoders; rarer ones share one "infrequent" column (or code).
MAX_CATEGORIES = 50
NUMERIC_TYPES = frozenset({"integer", "float"})
TEXT_TYPES = frozenset({"category", "boolean", "string"})


@dataclass(frozen=True)
class Preprocessing:
    imputation: Literal["median", "mean", "most_frequent", "constant"] = "median"  # numeric; categoricals use most_frequent
    encoding: Literal["onehot", "ordinal"] = "onehot"
    scaling: Literal["standard", "minmax", "robust", "none"] = "standard"
    outliers: Literal["none", "clip"] = "none"  # clip: winsorize numeric features at the training 1st/99th percentiles
    feature_selection: Literal["none", "variance", "k_best"] = "none"
    k_best: int = 20


class AsText(TransformerMixin, BaseEstimator):
    """Values as str objects and every kind of missing (None, NaN, pd.NA) as NaN, which SimpleImputer recognises.

    Booleans and numbers read as categories then encode the same whether they arrive typed or as text.
    """

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X)
        out = frame.astype(object).where(frame.notna(), np.nan)
        return out.map(lambda v: v if isinstance(v, float) else str(v)).to_numpy(dtype=object)


class EpochDays(TransformerMixin, BaseEstimator):
    """ISO 8601 date-times as days since 1970-01-01 (UTC); unparseable values become NaN and are imputed."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X)
        columns = []
        for column in frame.columns:
            columns.append(epoch_days(frame[column]))  # year 9999 or 1 included: see ml.tabular.epoch_days
        return np.column_stack(columns)


class Clipper(TransformerMixin, BaseEstimator):
    """Winsorizes each column at the quantiles seen in training (1st and 99th percentile by default)."""

    def __init__(self, lower: float = 0.01, upper: float = 0.99) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=float)
        with np.errstate(all="ignore"):
            self.low_ = np.nanquantile(values, self.lower, axis=0)
            self.high_ = np.nanquantile(values, self.upper, axis=0)
        return self

    def transform(self, X):
        # NaN bounds (an all-missing training column) leave the column as it is.
        values = np.asarray(X, dtype=float)
        return np.clip(values, np.where(np.isnan(self.low_), -np.inf, self.low_), np.where(np.isnan(self.high_), np.inf, self.high_))


def _scaler(name: str):
    return {"standard": StandardScaler(), "minmax": MinMaxScaler(), "robust": RobustScaler(), "none": "passthrough"}[name]


def _numeric_steps(options: Preprocessing) -> list:
    steps: list = []
    if options.outliers == "clip":
        steps.append(("clip", Clipper()))
    fill = {"strategy": "constant", "fill_value": 0.0} if options.imputation == "constant" else {"strategy": options.imputation}
    steps.append(("impute", SimpleImputer(**fill, keep_empty_features=True)))
    steps.append(("scale", _scaler(options.scaling)))
    return steps


def column_transformer(schema: dict[str, str], options: Preprocessing) -> ColumnTransformer:
    """Numeric, datetime (as epoch days) and text (category, boolean, string) branches over the given features."""
    numeric = [c for c, kind in schema.items() if kind in NUMERIC_TYPES]
    dates = [c for c, kind in schema.items() if kind == "datetime"]
    text = [c for c, kind in schema.items() if kind in TEXT_TYPES]
    if options.encoding == "onehot":
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES, sparse_output=False)
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, max_categories=MAX_CATEGORIES)
    branches = []
    if numeric:
        branches.append(("numeric", Pipeline(_numeric_steps(options)), numeric))
    if dates:
        branches.append(("datetime", Pipeline([("days", EpochDays()), *_numeric_steps(options)]), dates))
    if text:
        branches.append(("text", Pipeline([("as_text", AsText()), ("impute", SimpleImputer(strategy="most_frequent")),
                                           ("encode", encoder)]), text))
    # n_jobs=1: branches are cheap; under a Dask backend the default would ship each one as a task.
    return ColumnTransformer(branches, remainder="drop", n_jobs=1)


def selector(options: Preprocessing, task: str):
    """The "select" step: passthrough, a zero-variance filter, or the k best by an F-test against the target."""
    if options.feature_selection == "variance":
        return VarianceThreshold(0.0)
    if options.feature_selection == "k_best":
        # k larger than the encoded width keeps every feature (scikit-learn warns; the warning is silenced in training).
        return SelectKBest(f_classif if task == "classification" else f_regression, k=options.k_best)
    return "passthrough"
