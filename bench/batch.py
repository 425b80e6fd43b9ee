"""Batch inference throughput with a HistGradientBoosting pipeline as the product trains it: scoring alone, the
whole batch run (scoring + SHAP + drift + fairness + performance), and shap's TreeExplainer alone on that model.

    python bench/batch.py                 # a 100,000-row batch x 30 features (27 numeric, 3 categories)
    python bench/batch.py --rows 5000

The model is fitted on a separate training set (--train-rows, default 20,000, the reference for drift) with
the hist_gradient_boosting family's default parameters; the batch carries a label and a protected attribute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.train import TARGET, synthetic  # noqa: E402
from ml.automl import TrainingSpec, build_pipeline  # noqa: E402
from ml.baseline import feature_baseline, score_baseline  # noqa: E402
from ml.batch import BatchSpec, run_batch  # noqa: E402
from ml.families import FAMILIES  # noqa: E402

GROUP = "group"


def frames(rows: int, train_rows: int, features: int, seed: int):
    df, schema = synthetic(rows + train_rows, features, seed)
    df[GROUP] = np.random.default_rng(seed).choice(np.array(["a", "b", "c"], dtype=object), len(df))
    return df.iloc[:train_rows], df.iloc[train_rows:].reset_index(drop=True), schema


def measurements(args: argparse.Namespace) -> list[dict]:
    train, batch, schema = frames(args.rows, args.train_rows, args.features, args.seed)
    features = [c for c in schema if c != TARGET]
    feature_schema = {c: schema[c] for c in features}
    (family,) = [f for f in FAMILIES["classification"] if f.name == "hist_gradient_boosting"]
    spec = TrainingSpec(task="classification", target=TARGET, time_budget_seconds=1)
    pipeline = build_pipeline(feature_schema, spec, family.build(family.default, 0)).fit(train[features], train[TARGET])
    classes = [0, 1]
    baseline = feature_baseline(train[features], feature_schema)
    baseline["__score__"] = score_baseline(pipeline, train[features], "classification", classes)
    batch_spec = BatchSpec(task="classification", features=features, input_schema=feature_schema, label_column=TARGET,
                           protected_attributes=(GROUP,), classes=classes, chunk_rows=args.chunk_rows)
    rows = len(batch)

    pipeline.predict_proba(batch[features].iloc[:100])  # warm up: the first call pays for imports and thread start
    began = time.monotonic()
    for start in range(0, rows, args.chunk_rows):
        pipeline.predict_proba(batch[features].iloc[start:start + args.chunk_rows])
    scoring = time.monotonic() - began

    began = time.monotonic()
    result = run_batch(pipeline, batch, batch_spec, reference=train[features], baseline=baseline)
    whole = time.monotonic() - began

    encoded = pipeline[:-1].transform(batch[features])
    began = time.monotonic()
    shap.TreeExplainer(pipeline[-1]).shap_values(encoded)
    tree = time.monotonic() - began

    return [{"run": "scoring alone (predict_proba, chunked)", "rows": rows, "seconds": scoring, "rows_per_s": rows / scoring},
            {"run": "run_batch: scoring + SHAP + drift + fairness + performance", "rows": rows, "seconds": whole,
             "rows_per_s": rows / whole},
            {"run": "shap.TreeExplainer alone (on encoded rows)", "rows": rows, "seconds": tree, "rows_per_s": rows / tree},
            {"run": f"  (drift share {result.summary['drift']['share_drifted']:.2f}, AUC "
                    f"{result.summary['performance']['roc_auc']:.3f}, predictions report "
                    f"{len(result.reports['predictions']) / 1e6:.1f} MB)", "rows": None, "seconds": None, "rows_per_s": None}]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = measurements(args)
    columns = ["run", "rows", "seconds", "rows_per_s"]
    widths = [max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_cell(r[c]).ljust(w) for c, w in zip(columns, widths)))


if __name__ == "__main__":
    main()
