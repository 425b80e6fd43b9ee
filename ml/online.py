"""One model served online: predictions, scores and per-prediction SHAP explanations for a few rows at a time.

The explainer is built once per served model (TreeExplainer for trees — exact, about 0.1 ms a row; LinearExplainer
over a background of training rows for linear models) and each request's rows are explained with the prediction,
so an explanation costs no more than a batch run's per row. An explanation keeps the base value and the largest
contributions by magnitude; the rest are summed into OTHER, so base value + contributions still add up to the output
the explainer attributes (log-odds, probability or prediction: `output`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .explain import Explainer, make_explainer

OTHER = "(other features)"


@dataclass(frozen=True)
class Answer:
    prediction: Any
    score: float | None
    explanation: dict[str, Any]


class OnlineModel:
    """A fitted pipeline ready to answer: its input columns, classes and explainer."""

    def __init__(self, pipeline: Pipeline, features: list[str], task: str, *, background: pd.DataFrame | None,
                 top: int = 10, random_state: int = 0) -> None:
        self.pipeline, self.features, self.task, self.top = pipeline, features, task, top
        classes = getattr(pipeline, "classes_", None)
        self.classes = None if classes is None else list(classes)
        self.binary = self.classes is not None and len(self.classes) == 2
        self.explainer: Explainer | None = None
        if not isinstance(pipeline, Pipeline):  # imported from elsewhere: a bare estimator takes the columns as they are
            self.note = "not explained: the version is not a pipeline govledger trained"
            return
        encoded = pipeline[:-1].transform(background[features]) if background is not None and len(background) else None
        self.note = "not explained: no reference rows to explain against"
        if encoded is not None or _is_tree(pipeline):
            self.explainer = make_explainer(pipeline, features, task, np.asarray(encoded if encoded is not None else
                                                                                 np.zeros((1, 1))), random_state)
            self.note = self.explainer.note
            if self.explainer.explain_rows is not None:  # model-agnostic: far too slow per request
                self.explainer, self.note = None, "not explained online: a model-agnostic explainer is too slow per request"

    def answer(self, rows: list[dict[str, Any]]) -> list[Answer]:
        """Predict, score and explain `rows` (each a mapping of every input feature)."""
        frame = pd.DataFrame(rows, columns=self.features)
        if isinstance(self.pipeline, Pipeline):
            encoded = self.pipeline[:-1].transform(frame)  # once: the model, its scores and the explainer all read it
            model = self.pipeline[-1]
        else:
            encoded, model = frame, self.pipeline
        scores: np.ndarray | None = None
        predicted_class = None
        if self.task == "classification" and hasattr(model, "predict_proba") and self.classes is not None:
            probabilities = model.predict_proba(encoded)
            predicted_class = probabilities.argmax(axis=1)
            predictions = np.asarray(self.classes, dtype=object)[predicted_class]
            scores = probabilities[:, 1] if self.binary else probabilities.max(axis=1)
        else:
            predictions = model.predict(encoded)
            if self.task == "regression":
                scores = np.asarray(predictions, dtype=float)
        contributions = base = None
        if self.explainer is not None and self.explainer.name is not None:
            contributions, base = self.explainer.explain(np.asarray(encoded), None if self.binary else predicted_class)
        answers = []
        for i, prediction in enumerate(predictions):
            explanation = (self._explanation(contributions[i], float(base[i])) if contributions is not None
                           else {"output": "none", "note": self.note, "base_value": None, "contributions": {}})
            answers.append(Answer(_plain(prediction), None if scores is None else float(scores[i]), explanation))
        return answers

    def _explanation(self, row: np.ndarray, base: float) -> dict[str, Any]:
        order = np.argsort(-np.abs(row), kind="stable")
        kept = {self.features[j]: float(row[j]) for j in order[:self.top]}
        rest = float(row[order[self.top:]].sum()) if len(order) > self.top else 0.0
        if len(order) > self.top:
            kept[OTHER] = rest
        assert self.explainer is not None
        return {"output": self.explainer.output, "explainer": self.explainer.name, "base_value": base,
                "contributions": kept}


def _is_tree(pipeline: Pipeline) -> bool:
    from .explain import TREES

    return isinstance(pipeline[-1], TREES)


def _plain(value: Any) -> Any:
    """A numpy scalar as the JSON value it stands for."""
    return value.item() if hasattr(value, "item") else value
