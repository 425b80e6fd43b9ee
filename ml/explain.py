"""SHAP explanations of a trained pipeline's model step, mapped back from the encoded columns to the input features.

The model is explained over what it sees: `pipeline[:-1].transform(X)` (preprocessing and selection). The
contributions of the columns one input feature became (a one-hot feature's indicator columns) are summed, which
keeps local accuracy: base value + the sum of a row's contributions = the model's output for that row.

What is explained, per model:
- tree ensembles (HistGradientBoosting, random forest, extra trees): shap.TreeExplainer, exact and every row. The
  output is the model's raw output: log-odds of the positive class for HistGradientBoosting, the positive class's
  probability for forests (their trees average probabilities), the prediction for regression.
- linear models (logistic regression, ridge): shap.LinearExplainer (interventional), background = up to
  BACKGROUND_ROWS sampled transformed rows of the reference (or of the batch without one); the output is the
  log-odds of the positive class for logistic regression, the prediction for ridge. Every row.
- anything else with a predict (k nearest neighbours): shap.PermutationExplainer over a BACKGROUND_ROWS_AGNOSTIC
  background, on the first AGNOSTIC_ROWS rows of the batch only (its cost grows with rows × background × features);
  the output is the positive class's probability (the predicted class's, multiclass) or the prediction.
- clustering: not explained (a cluster label is not a quantity to attribute); the report says so.
Multiclass: each row is explained for the class predicted for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shap
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

TREES = (HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor,
         ExtraTreesClassifier, ExtraTreesRegressor)
LINEAR = (LogisticRegression, Ridge)
BACKGROUND_ROWS = 200
BACKGROUND_ROWS_AGNOSTIC = 50
AGNOSTIC_ROWS = 100
PERMUTATIONS = 3


@dataclass(frozen=True)
class Explainer:
    """A fitted SHAP explainer for one pipeline, and how its encoded columns map to the input features."""

    name: str | None  # None: not explained (see note)
    output: str  # what the contributions add up to: "log_odds", "probability", "prediction" or "none"
    note: str
    owners: np.ndarray  # (encoded columns × input features) 0/1 matrix
    explain_rows: int | None  # at most this many rows of a batch are explained; None: all
    shap_explainer: object = None
    predict: object = None  # the function the agnostic explainer attributes

    def explain(self, encoded: np.ndarray, predicted_class: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(contributions per input feature, base value per row) for the rows of `encoded`."""
        if self.name == "PermutationExplainer":
            # PERMUTATIONS antithetic permutations: each one adds up exactly, more only lower the variance.
            out = self.shap_explainer(encoded, max_evals=2 * PERMUTATIONS * (encoded.shape[1] + 1), silent=True)
            values, base = np.asarray(out.values), np.asarray(out.base_values, dtype=float)
        else:
            values = np.asarray(self.shap_explainer.shap_values(encoded))
            base = np.broadcast_to(np.asarray(self.shap_explainer.expected_value, dtype=float).reshape(-1),
                                   (len(encoded), values.shape[2] if values.ndim == 3 else 1))
        if values.ndim == 3:  # one output per class: the positive class (binary) or the class predicted for the row
            column = predicted_class if predicted_class is not None else np.ones(len(encoded), dtype=int)
            if values.shape[2] == 1:
                column = np.zeros(len(encoded), dtype=int)
            rows = np.arange(len(encoded))
            values, base = values[rows, :, column], np.asarray(base)[rows, column]
        base = np.asarray(base, dtype=float).reshape(len(encoded), -1)[:, 0]
        return values @ self.owners, base


def column_owners(prefix: Pipeline, features: list[str]) -> np.ndarray:
    """The (encoded columns × input features) matrix: 1 where an encoded column came from an input feature.

    Numeric and date branches give one column per input; a one-hot encoder gives one per kept category (plus one
    for the infrequent ones), read from its own feature names; a selector then keeps its support."""
    transformer = prefix.named_steps["preprocess"]
    owners: list[int] = []
    for _name, branch, columns in transformer.transformers_:
        if branch == "drop" or len(columns) == 0:
            continue
        last = branch.steps[-1][1] if isinstance(branch, Pipeline) else branch
        if isinstance(last, OneHotEncoder):
            # Input names "0", "1", … make each output name "<index>_<category>": the index says whose it is.
            names = last.get_feature_names_out([str(i) for i in range(len(columns))])
            owners.extend(features.index(columns[int(n.split("_", 1)[0])]) for n in names)
        else:
            owners.extend(features.index(c) for c in columns)
    select = prefix.named_steps.get("select")
    kept = np.arange(len(owners)) if select in (None, "passthrough") else np.flatnonzero(select.get_support())
    matrix = np.zeros((len(kept), len(features)))
    matrix[np.arange(len(kept)), np.asarray(owners)[kept]] = 1.0
    return matrix


def make_explainer(pipeline: Pipeline, features: list[str], task: str, background: np.ndarray,
                   random_state: int) -> Explainer:
    """The explainer for this pipeline; `background` is encoded rows (the reference's, else the batch's)."""
    model, owners = pipeline[-1], column_owners(pipeline[:-1], features)
    if task == "clustering":
        return Explainer(None, "none", "not explained: a cluster label is not a quantity to attribute; see the cluster "
                         "sizes in the performance report", owners, 0)
    rng = np.random.default_rng(random_state)
    if isinstance(model, TREES):
        output = "prediction" if task == "regression" else (
            "log_odds" if isinstance(model, HistGradientBoostingClassifier) else "probability")
        return Explainer("TreeExplainer", output, "exact (tree path dependent), every row", owners, None,
                         shap.TreeExplainer(model))
    if isinstance(model, LINEAR):
        sample = background[rng.choice(len(background), min(len(background), BACKGROUND_ROWS), replace=False)]
        return Explainer("LinearExplainer", "prediction" if task == "regression" else "log_odds",
                         f"interventional, background of {len(sample)} rows, every row", owners, None,
                         shap.LinearExplainer(model, sample))
    sample = background[rng.choice(len(background), min(len(background), BACKGROUND_ROWS_AGNOSTIC), replace=False)]
    predict = model.predict if task == "regression" else model.predict_proba
    masker = shap.maskers.Independent(sample, max_samples=len(sample))
    return Explainer("PermutationExplainer", "prediction" if task == "regression" else "probability",
                     f"model-agnostic ({PERMUTATIONS} antithetic permutations), background of {len(sample)} rows, the first "
                     f"{AGNOSTIC_ROWS} rows of the batch only",
                     owners, AGNOSTIC_ROWS, shap.PermutationExplainer(predict, masker, seed=random_state), predict)


def top_contributions(contributions: np.ndarray, features: list[str], k: int) -> list[str]:
    """Per row, "feature=value;…" for the k largest contributions by magnitude (ties in feature order)."""
    if k <= 0 or contributions.size == 0:
        return [""] * len(contributions)
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    return [";".join(f"{features[j]}={contributions[i, j]:.6g}" for j in row) for i, row in enumerate(order)]
