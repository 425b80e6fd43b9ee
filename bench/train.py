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


def job_overhead(database_url: str | None, jobs: int, budget: float) -> dict:
    """Training through the ledger: request → started latency of the job queue, and the events each job writes.

    A training worker (poll interval 0.05 s) runs beside; `jobs` requests are made one after another, each waiting for
    the previous job to end, so the latency is the queue's, not the wait for a busy worker."""
    import tempfile
    import threading

    import govledger.demo_data as demo
    from domain.application import Governance
    from ledger.artifacts import LocalArtifactStore
    from ledger.database import Database
    from ledger.ingest import ingest_file
    from ledger.migrate import migrate
    from workers.trainer import TrainerSettings, run_trainer

    folder = Path(tempfile.mkdtemp(prefix="bench-train-"))
    db = Database.from_url(database_url or f"sqlite:///{folder / 'ledger.db'}")
    migrate(db)
    app = Governance(env=db.eventsourcing_env())
    artifacts = LocalArtifactStore(folder / "artifacts")
    admin = app.authenticate(app.create_admin("root").api_key)
    app.create_user(admin, "dana", "data_scientist")
    dana = app.authenticate(app.issue_api_key(admin, "dana", "bench").api_key)
    path = folder / "credit.csv"
    path.write_bytes(demo.credit_data(np.random.default_rng(0), 2_000).to_csv())
    dataset = ingest_file(app, dana, artifacts, path, name="credit", source="file:credit.csv", source_kind="file",
                          max_bytes=10**9).id
    stop = threading.Event()
    worker = threading.Thread(target=run_trainer, args=(app, db, artifacts, TrainerSettings(cv_folds=3)),
                              kwargs={"interval": 0.05, "stop": stop}, daemon=True)
    worker.start()
    latencies, events = [], []
    try:
        for _ in range(jobs):
            before = app.recorder.max_notification_id()
            job_id = app.request_training(dana, dataset_id=dataset, task="classification", target="defaulted",
                                          time_budget_seconds=budget, protected_attributes=["gender"]).id
            while app.training_job(job_id).state.value in ("queued", "running"):
                time.sleep(0.02)
            job = app.training_job(job_id)
            history = [n for n in app.recorder.select_notifications(start=before + 1, limit=1_000)]
            requested = next(n for n in history if n.topic.endswith("TrainingJob.Requested"))
            started = next(n for n in history if n.topic.endswith("TrainingJob.Started"))
            stamps = {n.id: app.mapper.to_domain_event(n).timestamp for n in (requested, started)}
            latencies.append((stamps[started.id] - stamps[requested.id]).total_seconds())
            events.append(len(history))
            assert job.state.value == "succeeded", job.error
    finally:
        stop.set()
        worker.join(30)
    return {"database": db.kind, "jobs": jobs, "request_to_started_ms_median": 1000 * float(np.median(latencies)),
            "request_to_started_ms_max": 1000 * max(latencies), "events_per_job": sorted(set(events))}


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
    parser.add_argument("--overhead-jobs", type=int, default=5, help="jobs run through the ledger for the overhead figures")
    parser.add_argument("--pg", help="also measure the job overhead on this PostgreSQL database URL (an empty database)")
    args = parser.parse_args(argv)
    print(f"{args.rows} rows x {args.features} features ({CATEGORICAL} categorical), 80/20 split, AutoML budget {args.budget:g} s")
    columns = ("run", "candidates", "cv_roc_auc", "test_roc_auc", "seconds")
    rows = measurements(args)
    widths = [max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_cell(r[c]).ljust(w) for c, w in zip(columns, widths)))
    print(f"\njob overhead through the ledger ({args.overhead_jobs} jobs of 1 s on 2,000 rows, a worker polling every 0.05 s):")
    for url in (None, args.pg) if args.pg else (None,):
        figures = job_overhead(url, args.overhead_jobs, 1.0)
        print("  " + ", ".join(f"{k} {_cell(v)}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
