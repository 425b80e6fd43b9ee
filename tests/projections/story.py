"""A small governance history that touches every read model: users and keys, datasets, two models, versions walking
the whole lifecycle, compliance config and edits, refused attempts, a role change and a revoked key."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from domain.access import Refusal
from domain.application import Governance
from domain.batch import REPORTS
from domain.compliance import ComplianceConfig
from domain.datasets import Dataset
from domain.errors import DomainError
from domain.models import Model, ModelVersion
from domain.predictions import Prediction, Routed
from ledger.database import Database
from tests.domain.world import MemoryArtifacts

SECTIONS = ("model_info", "domain_context", "fairness_bias", "risk_classification")


def computed_run(app: Governance, manager: Any, version: UUID, dataset: UUID) -> UUID:
    """A batch run as a batch worker records it (the computation itself is tested in tests/ml and tests/workers)."""
    run = app.request_batch_run(manager, version, dataset_id=dataset, label_column="y").id
    app.start_batch_run(run, worker="w1", attempt=1, lease_seconds=30)
    app.complete_batch_run(run, worker="w1", attempt=1, report_hashes={name: "cd" * 32 for name in REPORTS}, rows=10,
                           summary={"drift": {"share_drifted": 0.0, "dataset_drift": False}}, metrics={"auc": 0.7},
                           drift_share=0.0, drift_detected=False, fairness_breach=False)
    return run


def story(db: Database, after_each: Callable[[], None] | None = None, keys: dict[str, str] | None = None, *,
          with_training: bool = False) -> Governance:
    """`after_each` runs after every command; `keys` receives each user's API key; `with_training` adds training jobs."""
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    step = after_each or (lambda: None)
    keys = {} if keys is None else keys
    keys["root"] = app.create_admin("root").api_key
    admin = app.authenticate(keys["root"])
    for name, role in (("dana", "data_scientist"), ("mia", "manager"), ("cora", "compliance_manager"),
                       ("dev", "data_scientist"), ("aud", "auditor")):
        app.create_user(admin, name, role)
        keys[name] = app.issue_api_key(admin, name, "t").api_key
    step()
    dana, mia, cora = (app.authenticate(keys[n]) for n in ("dana", "mia", "cora"))
    dataset = app.register_dataset(dana, name="d", source="s", schema={"a": "integer"}, row_count=1, content_hash="ab" * 32).id
    scoring = app.register_dataset(dana, name="scoring", source="upload:scoring.csv", schema={"a": "integer", "y": "boolean"},
                                   row_count=10, content_hash="cd" * 32, source_kind="upload", snapshot=True,
                                   profile={"a": {"type": "integer", "missing_share": 0.0, "distinct": 10},
                                            "y": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}).id
    step()
    served: dict[str, UUID] = {}
    for model_name in ("credit", "fraud"):
        model = app.register_model(dana, name=model_name, idempotency_key=f"register-{model_name}").id
        step()
        app.configure_compliance(cora, model, risk_tier="medium")
        for n in range(2 if model_name == "credit" else 1):
            blob = f"{model_name}-{n}".encode()
            version = app.import_version(dana, model, artifact=blob, declared_hash=hashlib.sha256(blob).hexdigest(), estimator="x",
                                         metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y", dataset_ids=[dataset]).id
            step()
            app.export_to_staging(dana, version)
            step()
            run = computed_run(app, mia, version, scoring)
            step()
            for section in SECTIONS:
                app.edit_section(cora, model, section, f"documented for version {n + 1}")
            step()
            try:
                app.approve(dana, version, findings="my own work")  # refused: forbidden, and recorded
            except DomainError:
                pass
            step()
            app.approve(mia, version, findings="ok", batch_run_id=run)
            step()
        deployment = deployed(app, mia, version)
        served[model_name] = version
        step()
    rules = {"name": "retail", "default_version_id": str(served["fraud"]),
             "rules": [{"name": "small", "when": {"field": "a", "op": "lt", "value": 5}, "version_id": str(served["credit"])}]}
    config = app.create_routing_config(mia, body=rules)
    step()
    record_predictions(app, config.id, {"credit": served["credit"], "fraud": served["fraud"]})
    step()
    app.update_routing_config(mia, config.id, body={**rules, "rules": [], "default_version_id": str(served["credit"])})
    step()
    terminated(app, mia, deployment, reason="replaced by a challenger")
    step()
    app.change_role(admin, "dev", "auditor")
    key_id = keys["dev"].split("_")[1]
    app.revoke_api_key(admin, key_id)
    step()
    if with_training:
        training(app, dana, step)
    return app


#: What a training worker hands the ledger for a completed job (the search itself is tested in tests/ml).
TRAINED = {"estimator": "HistGradientBoostingClassifier", "family": "hist_gradient_boosting", "params": {"max_iter": 100},
           "metric": "roc_auc", "cv_mean": 0.81, "cv_std": 0.01, "candidates": 9, "seconds": 4.0,
           "leaderboard": [{"family": "hist_gradient_boosting", "params": {"max_iter": 100}, "cv_mean": 0.81, "cv_std": 0.01,
                            "fit_seconds": 0.3}, {"family": "ridge", "params": {}, "cv_mean": 0.7, "cv_std": 0.02, "fit_seconds": 0.1}],
           "metrics": {"cv_roc_auc_mean": 0.81}, "input_schema": {"a": "integer"}, "feature_domains": {"a": {"min": 0, "max": 9}},
           "baseline": {"a": {"quantiles": {"0.5": 4.0}, "n": 50}}, "classes": [False, True]}


def training(app: Governance, dana: Any, step: Callable[[], None]) -> None:
    """Training jobs: one completed after a takeover (a new model and its version), one cancelled, one failed."""
    profile = {"a": {"type": "integer", "missing_share": 0.0, "distinct": 10},
               "y": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}
    snapshot = app.register_dataset(dana, name="snapshot", source="upload:s.csv", schema={"a": "integer", "y": "boolean"},
                                    row_count=50, content_hash="ef" * 32, source_kind="upload", profile=profile, snapshot=True).id
    step()
    jobs = [app.request_training(dana, dataset_id=snapshot, task="classification", target="y", time_budget_seconds=5,
                                 model_name=f"trained-{n}").id for n in range(3)]
    step()
    app.start_training(jobs[0], worker="w1", attempt=1, lease_seconds=30)
    step()
    app.start_training(jobs[0], worker="w2", attempt=2, lease_seconds=30)  # w1's lease ran out
    app.complete_training(jobs[0], worker="w2", attempt=2, artifact_hash="12" * 32, trained=TRAINED)
    step()
    app.cancel_training(dana, jobs[1], reason="wrong target")
    app.start_training(jobs[2], worker="w2", attempt=1, lease_seconds=30)
    app.fail_training(jobs[2], worker="w2", attempt=1, code="invalid_dataset", reason="the snapshot was altered")
    step()


WRITTEN = ("model_info", "domain_context", "fairness_bias", "provenance", "consent", "risk_classification")


def model_cycle(rng: random.Random, owner: UUID, reviewer: UUID) -> list[Any]:
    """One model's year: ~40 events over a model, three versions and their datasets, and a refused attempt."""
    model = Model.register(name=f"model-{rng.getrandbits(32):08x}", description="credit risk", owner=owner, registered_by="dana")
    model.configure_compliance(ComplianceConfig.build(rng.choice(["high", "medium", "low"])), "cora")
    for section in WRITTEN:
        model.edit_section(section, "documented " * 20, "dana")
    out = [model]
    for number in range(1, 4):
        datasets = [Dataset.register(name=f"feed-{number}-{i}", source=f"s3://feed/{uuid4()}.csv", schema={"income": "float", "age": "integer"},
                                     row_count=rng.randint(1_000, 100_000), content_hash="%064x" % rng.getrandbits(256),
                                     registered_by="dana") for i in range(4)]
        version = ModelVersion.import_trained(
            model_id=model.id, number=number, artifact_hash="%064x" % rng.getrandbits(256), estimator="HistGradientBoosting",
            metrics={"auc": 0.8}, input_schema={"income": "float", "age": "integer"}, target="default",
            dataset_ids=[d.id for d in datasets], trained_by=owner, trained_by_name="dana")
        model.add_version(version.id, number, "dana")
        version.export_to_staging(owner)
        run_id = f"run-{uuid4()}"
        version.record_batch_run(run_id=run_id, rows=5_000, metrics={"auc": 0.81},
                                 report_hashes={"drift": "ab" * 32, "explanations": "cd" * 32}, drift_share=0.1,
                                 drift_detected=False, fairness_breach=False, by=reviewer)
        version.approve(by=reviewer, by_name="mia", findings="meets the bar", justification=None, batch_run_id=run_id,
                        missing_mandatory=[])
        deployment_id = uuid4()
        version.deploy(target="local", by=reviewer, deployment_id=deployment_id)
        if number < 3:
            version.end_deployment(by=reviewer, reason="superseded", deployment_id=deployment_id)
        out += [*datasets, version]
    out.append(Refusal(owner, "dana", "data_scientist", "approve or reject a model version", "model_version", str(version.id),
                       "forbidden", "dana (data_scientist) may not approve or reject a model version"))
    return out


def history(app: Governance, events: int, rng: random.Random, owner: UUID, reviewer: UUID) -> int:
    """Append model cycles, five per transaction, until the ledger holds at least `events` events; return its size."""
    written = app.recorder.max_notification_id()
    while written < events:
        written = app.save(*[a for _ in range(5) for a in model_cycle(rng, owner, reviewer)])[-1].notification.id
    return written


def deployed(app: Any, manager: Any, version: Any) -> Any:
    """A local deployment provisioned as a deploy worker records it."""
    deployment = app.request_deployment(manager, version).id
    app.start_deployment(deployment, worker="w1", attempt=1, lease_seconds=30)
    app.complete_deployment(deployment, worker="w1", attempt=1, endpoint="/v1/predict",
                            resources=[{"type": "local-serving", "id": str(deployment)}])
    return deployment


def terminated(app: Any, manager: Any, deployment: Any, *, reason: str) -> Any:
    """A deployment terminated and released as a deploy worker records it."""
    termination = app.terminate_deployment(manager, deployment, reason=reason).id
    app.start_termination(termination, worker="w1", attempt=1, lease_seconds=30)
    app.complete_termination(termination, worker="w1", attempt=1,
                             released=[{"type": "local-serving", "id": str(deployment)}])
    return termination


def record_predictions(app: Any, config_id: UUID, versions: dict[str, UUID]) -> None:
    """Predictions as the prediction endpoint records them (one a data subject's, its input sealed)."""
    config = app.routing_config(config_id)
    for n, (name, version_id) in enumerate(sorted(versions.items())):
        version = app.repository.get(version_id)
        routed = Routed(config.id, config.revision, config.key_id, "small" if name == "credit" else None, None, None)
        app.save(Prediction(f"req-{n}", routed.routing_config_id, routed.revision, routed.key_id, routed.rule, None, None,
                            version.id, version.model_id, UUID(config.deployments[str(version.id)]), False, None,
                            {"a": n}, None, n % 2 == 0, 0.25 + n / 10, {"base_value": 0.1, "contributions": {"a": 0.2}},
                            "ab" * 32, 2.5))
