"""Deterministic report bytes: canonical JSON (sorted keys, no spaces, finite floats rounded) and the predictions CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np

from .explain import top_contributions

DIGITS = 12  # significant digits of every float in the JSON reports: enough for any figure, the same on every run


def json_safe(value: Any) -> Any:
    """Python types only; finite floats rounded to DIGITS significant digits, NaN and infinities None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None
    return value


def canonical(data: Any) -> bytes:
    return json.dumps(json_safe(data), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _text(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def predictions_csv(predictions: np.ndarray, scores: np.ndarray, contributions: np.ndarray, explained: np.ndarray,
                    features: list[str], top: int) -> bytes:
    """row (position in the batch), prediction, score, contributions ("feature=value;…", the `top` largest by
    magnitude; empty for a row not explained). Floats with 10 significant digits, contributions with 6."""
    tops = top_contributions(contributions, features, top)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "prediction", "score", "contributions"])
    for i, (prediction, score) in enumerate(zip(predictions.tolist(), scores.tolist())):
        writer.writerow([i, _text(prediction), _text(float(score)), tops[i] if explained[i] else ""])
    return out.getvalue().encode()
