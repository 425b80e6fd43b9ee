"""A ledger holding an approved version whose artifact is a real fitted pipeline, for deploy worker tests on SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from domain.application import Governance
from domain.batch import REPORTS
from domain.roles import Actor
from ledger.artifacts import LocalArtifactStore, dump_model
from ledger.database import Database
from ml.automl import build_pipeline
from ml.spec import TrainingSpec
from workers.deployer import Deployer, Terminator
from workers.jobs import WorkerSettings
from workers.targets.local import LocalTarget

MANUAL = ("model_info", "domain_context", "fairness_bias", "provenance", "consent", "risk_classification")


def fitted_artifact(seed: int = 0) -> bytes:
    """A pipeline as govledger's training makes them (preprocessing, selection, a logistic regression)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 200), "income": rng.normal(50_000, 15_000, 200)})
    spec = TrainingSpec(task="classification", target="y", time_budget_seconds=1)
    model = build_pipeline({"age": "integer", "income": "float"}, spec, LogisticRegression(max_iter=500))
    return dump_model(model.fit(frame, frame["income"] > 50_000))


@dataclass
class DeployWorld:
    db: Database
    app: Governance
    artifacts: LocalArtifactStore
    manager: Actor
    ds: Actor
    cora: Actor
    model_id: UUID

    def approved_version(self, seed: int = 0) -> UUID:
        blob = fitted_artifact(seed)
        dataset = self.app.register_dataset(self.ds, name=f"loans {seed}", source="s3://bank/loans.csv",
                                            schema={"age": "integer", "income": "float", "y": "boolean"}, row_count=200,
                                            content_hash=hashlib.sha256(blob + b"data").hexdigest()).id
        version = self.app.import_version(self.ds, self.model_id, artifact=blob, declared_hash=hashlib.sha256(blob).hexdigest(),
                                          estimator="LogisticRegression", metrics={"auc": 0.9},
                                          input_schema={"age": "integer", "income": "float"}, target="y",
                                          dataset_ids=[dataset]).id
        self.app.export_to_staging(self.ds, version)
        snapshot = self.app.register_dataset(self.ds, name=f"scoring {seed}", source="upload:s.csv",
                                             schema={"age": "integer", "income": "float", "y": "boolean"}, row_count=200,
                                             content_hash="ef" * 32, source_kind="upload", snapshot=True,
                                             profile={"age": {"type": "integer", "missing_share": 0.0, "distinct": 60},
                                                      "income": {"type": "float", "missing_share": 0.0, "distinct": 200},
                                                      "y": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}).id
        run = self.app.request_batch_run(self.manager, version, dataset_id=snapshot, label_column="y").id
        self.app.start_batch_run(run, worker="w1", attempt=1, lease_seconds=30)
        self.app.complete_batch_run(run, worker="w1", attempt=1, report_hashes={n: "ab" * 32 for n in REPORTS}, rows=200,
                                    summary={}, metrics={"auc": 0.9}, drift_share=0.0, drift_detected=False,
                                    fairness_breach=False)
        for section in MANUAL:
            self.app.edit_section(self.cora, self.model_id, section, f"{section} documented")
        self.app.approve(self.manager, version, findings="meets the bar", batch_run_id=run)
        return version

    def workers(self, targets: Callable[[str], Any] | None = None, *, name: str = "deployer-a",
                lease: float = 30.0) -> tuple[Deployer, Terminator]:
        settings = WorkerSettings(lease_seconds=lease, name=name)
        local = LocalTarget(self.artifacts)
        chosen = targets or (lambda _: local)
        return (Deployer(self.app, self.db, self.artifacts, settings, chosen),
                Terminator(self.app, self.db, self.artifacts, settings, chosen))


def deploy_world(db_url: str, data_dir: Path) -> DeployWorld:
    db = Database.from_url(db_url)
    artifacts = LocalArtifactStore(data_dir / "artifacts")
    app = Governance(env=db.eventsourcing_env(), artifacts=artifacts)
    admin = app.authenticate(app.create_admin("root").api_key)
    actors = {}
    for name, role in (("mia", "manager"), ("dana", "data_scientist"), ("cora", "compliance_manager")):
        app.create_user(admin, name, role)
        actors[name] = app.authenticate(app.issue_api_key(admin, name, "test").api_key)
    model = app.register_model(actors["dana"], name="credit-default").id
    return DeployWorld(db, app, artifacts, actors["mia"], actors["dana"], actors["cora"], model)
