"""AutoML under a time budget beside one default HistGradientBoostingClassifier, on the same synthetic split.

    python bench/train.py                      # 100,000 rows x 30 features, a 60 s budget
    python bench/train.py --rows 5000 --budget 10

Both are scored on the same held-out 20%; AutoML also reports its best cross-validation score.
`measurements()` returns the rows `main()` prints: add rows there (e.g. the job overhead of training
through the ledger's workers) and they appear in the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.automl import TrainingSpec, train

CATEGORICAL = 3
TARGET = "label"


def synthetic(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """`features` columns: all but three numeric from make_classification; three categories derived from
    informative columns (binned, with 10% of values shuffled), so they carry signal."""
    rng = np.random.default_rng(seed)
    numeric = features - CATEGORICAL
    X, y = make_classification(n_samples=rows, n_features=numeric, n_informative=max(2, numeric // 3), n_redundant=2,
                               random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(numeric)])
    schema = {c: "float" for c in df.columns}
    for i in range(CATEGORICAL):
        bins = np.digitize(X[:, i], np.quantile(X[:, i], [0.2, 0.4, 0.6, 0.8]))
        noise = rng.random(rows) < 0.1
        bins[noise] = rng.integers(0, 5, noise.sum())
        df[f"c{i}"] = np.array(["a", "b", "c", "d", "e"], dtype=object)[bins]
        schema[f"c{i}"] = "category"
    df[TARGET] = y
    schema[TARGET] = "integer"
    return df, schema


def run_automl(train_df: pd.DataFrame, test_df: pd.DataFrame, schema: dict[str, str], budget: float, n_jobs: int) -> dict:
    began = time.monotonic()
    result = train(train_df, schema, TrainingSpec(task="classification", target=TARGET, time_budget_seconds=budget, n_jobs=n_jobs))
    wall = time.monotonic() - began
    test_auc = roc_auc_score(test_df[TARGET], result.pipeline.predict_proba(test_df[result.features])[:, 1])
    return {"run": f"AutoML ({result.family})", "candidates": result.candidates, "cv_roc_auc": result.cv_mean,
            "test_roc_auc": test_auc, "seconds": wall}


def run_fixed_default(train_df: pd.DataFrame, test_df: pd.DataFrame) -> dict:
    def frame(df: pd.DataFrame) -> pd.DataFrame:
        X = df.drop(columns=TARGET)
        return X.astype({c: "category" for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])})

    began = time.monotonic()
    model = HistGradientBoostingClassifier(random_state=0).fit(frame(train_df), train_df[TARGET])
    wall = time.monotonic() - began
    test_auc = roc_auc_score(test_df[TARGET], model.predict_proba(frame(test_df))[:, 1])
    return {"run": "HistGradientBoosting, defaults", "candidates": 1, "cv_roc_auc": None, "test_roc_auc": test_auc,
            "seconds": wall}


def measurements(args: argparse.Namespace) -> list[dict]:
    df, schema = synthetic(args.rows, args.features, args.seed)
    train_df, test_df = train_test_split(df, test_size=0.2, stratify=df[TARGET], random_state=args.seed)
    return [run_automl(train_df, test_df, schema, args.budget, args.n_jobs), run_fixed_default(train_df, test_df)]


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="AutoML time budget in seconds")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=-1, help="cross-validation folds fitted in parallel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{args.rows} rows x {args.features} features ({CATEGORICAL} categorical), 80/20 split, AutoML budget {args.budget:g} s")
    columns = ("run", "candidates", "cv_roc_auc", "test_roc_auc", "seconds")
    rows = measurements(args)
    widths = [max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_cell(r[c]).ljust(w) for c, w in zip(columns, widths)))


if __name__ == "__main__":
    main()
