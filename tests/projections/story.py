"""A small governance history that touches every read model: users and keys, datasets, two models, versions walking
the whole lifecycle, compliance config and edits, refused attempts, a role change and a revoked key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from domain.application import Governance
from domain.errors import DomainError
from ledger.database import Database
from tests.domain.world import MemoryArtifacts

SECTIONS = ("model_info", "domain_context", "fairness_bias", "risk_classification")


def story(db: Database, after_each: Callable[[], None] | None = None, keys: dict[str, str] | None = None) -> Governance:
    """`after_each` runs after every command; `keys` receives each user's API key."""
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    step = after_each or (lambda: None)
    keys = {} if keys is None else keys
    keys["root"] = app.create_admin("root")[1]
    admin = app.authenticate(keys["root"])
    for name, role in (("dana", "data_scientist"), ("mia", "manager"), ("cora", "compliance_manager"),
                       ("dev", "data_scientist"), ("aud", "auditor")):
        app.create_user(admin, name, role)
        keys[name] = app.issue_api_key(admin, name, "t")[1]
    step()
    dana, mia, cora = (app.authenticate(keys[n]) for n in ("dana", "mia", "cora"))
    dataset = app.register_dataset(dana, name="d", source="s", schema={"a": "integer"}, row_count=1, content_hash="ab" * 32)
    step()
    for model_name in ("credit", "fraud"):
        model = app.register_model(dana, name=model_name)
        step()
        app.configure_compliance(cora, model, risk_tier="medium")
        for n in range(2 if model_name == "credit" else 1):
            blob = f"{model_name}-{n}".encode()
            version = app.import_version(dana, model, artifact=blob, declared_hash=hashlib.sha256(blob).hexdigest(), estimator="x",
                                         metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y", dataset_ids=[dataset])
            step()
            app.export_to_staging(dana, version)
            step()
            app.record_batch_run(mia, version, run_id=f"run-{model_name}-{n}", rows=10, metrics={"auc": 0.7},
                                 report_hashes={"drift": "cd" * 32}, drift_share=0.0, drift_detected=False, fairness_breach=False)
            step()
            for section in SECTIONS:
                app.edit_section(cora, model, section, f"documented for version {n + 1}")
            step()
            try:
                app.approve(dana, version, findings="my own work")  # refused: forbidden, and recorded
            except DomainError:
                pass
            step()
            app.approve(mia, version, findings="ok")
            step()
        app.deploy(mia, version)
        step()
    app.terminate(mia, version, reason="replaced by a challenger")
    step()
    app.change_role(admin, "dev", "auditor")
    key_id = keys["dev"].split("_")[1]
    app.revoke_api_key(admin, key_id)
    step()
    return app
