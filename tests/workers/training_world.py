"""A ledger with a data scientist and an ingested credit dataset, for training worker tests on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import numpy as np

from domain.application import Governance
from domain.roles import Actor
from govledger.demo_data import credit_data
from ledger.artifacts import LocalArtifactStore
from ledger.database import Database
from ledger.ingest import ingest_file
from workers.trainer import Trainer, TrainerSettings


@dataclass
class TrainingWorld:
    db: Database
    app: Governance
    artifacts: LocalArtifactStore
    ds: Actor
    manager: Actor
    other_ds: Actor
    dataset_id: UUID
    keys: dict[str, str]

    def trainer(self, name: str = "worker-a", lease: float = 30.0) -> Trainer:
        return Trainer(self.app, self.db, self.artifacts, TrainerSettings(lease_seconds=lease, cv_folds=3, name=name))

    def low_risk_and_documented(self, model_id: UUID) -> None:
        """A compliance manager sets the model to low risk and writes its two mandatory sections."""
        admin = self.app.authenticate(self.keys["root"])
        self.app.create_user(admin, "cora", "compliance_manager")
        cora = self.app.authenticate(self.app.issue_api_key(admin, "cora", "t").api_key)
        self.app.configure_compliance(cora, model_id, risk_tier="low")
        for section in ("model_info", "risk_classification"):
            self.app.edit_section(cora, model_id, section, "documented")

    def request(self, **overrides: object) -> UUID:
        request = {"dataset_id": self.dataset_id, "task": "classification", "target": "defaulted",
                   "time_budget_seconds": 2, "protected_attributes": ["gender"], **overrides}
        return self.app.request_training(self.ds, **request).id


def training_world(db_url: str, data_dir: Path, rows: int = 400) -> TrainingWorld:
    db = Database.from_url(db_url)
    app = Governance(env=db.eventsourcing_env())
    artifacts = LocalArtifactStore(data_dir / "artifacts")
    app.artifacts = artifacts
    keys = {"root": app.create_admin("root").api_key}
    admin = app.authenticate(keys["root"])
    actors = {}
    for name, role in (("dana", "data_scientist"), ("mia", "manager"), ("dev", "data_scientist")):
        app.create_user(admin, name, role)
        keys[name] = app.issue_api_key(admin, name, "test").api_key
        actors[name] = app.authenticate(keys[name])
    path = data_dir / "credit.csv"
    path.write_bytes(credit_data(np.random.default_rng(3), rows).to_csv())
    dataset = ingest_file(app, actors["dana"], artifacts, path, name="credit", source="file:credit.csv",
                          source_kind="file", max_bytes=10**8).id
    return TrainingWorld(db, app, artifacts, actors["dana"], actors["mia"], actors["dev"], dataset, keys)
