"""A small world for domain tests, on eventsourcing's in-memory store: one user per role and a model to govern."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from uuid import UUID

from domain.application import Governance
from domain.batch import REPORTS
from domain.roles import Actor, Role

ROLES = list(Role)


class MemoryArtifacts:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest


@dataclass
class World:
    app: Governance
    actors: dict[Role, Actor]
    keys: dict[str, str] = field(default_factory=dict)
    other_data_scientist: Actor | None = None
    dataset_id: UUID | None = None
    model_id: UUID | None = None
    runs: dict[UUID, UUID] = field(default_factory=dict)  # version → its latest computed batch run

    def actor(self, role: Role) -> Actor:
        return self.actors[role]

    @property
    def ds(self) -> Actor:
        return self.actors[Role.DATA_SCIENTIST]

    @property
    def manager(self) -> Actor:
        return self.actors[Role.MANAGER]

    @property
    def compliance(self) -> Actor:
        return self.actors[Role.COMPLIANCE_MANAGER]

    @property
    def admin(self) -> Actor:
        return self.actors[Role.SUPERADMIN]

    def events(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def new_version(self, *, artifact: bytes = b"a fitted pipeline") -> UUID:
        return self.app.import_version(
            self.ds, self.model_id, artifact=artifact, declared_hash=hashlib.sha256(artifact).hexdigest(),
            estimator="HistGradientBoostingClassifier", metrics={"roc_auc": 0.81}, input_schema={"age": "integer", "income": "float"},
            target="defaulted", dataset_ids=[self.dataset_id]).id

    def snapshot_dataset(self) -> UUID:
        """A dataset whose bytes are in the artifact store, profiled, so a job can train on it."""
        profile = {"age": {"type": "integer", "missing_share": 0.0, "distinct": 60},
                   "income": {"type": "float", "missing_share": 0.0, "distinct": 990},
                   "gender": {"type": "category", "missing_share": 0.0, "distinct": 2},
                   "defaulted": {"type": "boolean", "missing_share": 0.0, "distinct": 2}}
        return self.app.register_dataset(self.ds, name="applications snapshot", source="upload:apps.csv",
                                         schema={c: p["type"] for c, p in profile.items()}, row_count=1000,
                                         content_hash="ef" * 32, source_kind="upload", profile=profile, snapshot=True).id

    def training_job(self, **overrides: object) -> UUID:
        request = {"dataset_id": self.snapshot_dataset(), "task": "classification", "target": "defaulted",
                   "time_budget_seconds": 5, "protected_attributes": ["gender"], "model_id": self.model_id, **overrides}
        return self.app.request_training(self.ds, **request).id

    def staged_version(self) -> UUID:
        version_id = self.new_version()
        self.app.export_to_staging(self.ds, version_id)
        return version_id

    def batch_run(self, version_id: UUID, *, drift: bool = False, fairness_breach: bool = False) -> UUID:
        """A batch run the system computed, as a batch worker records it; its id is also kept in `runs`."""
        run_id = self.app.request_batch_run(self.manager, version_id, dataset_id=self.snapshot_dataset(),
                                            label_column="defaulted", protected_attributes=["gender"]).id
        self.app.start_batch_run(run_id, worker="w1", attempt=1, lease_seconds=30)
        self.app.complete_batch_run(run_id, worker="w1", attempt=1, report_hashes={n: "ab" * 32 for n in REPORTS},
                                    rows=500, summary={"drift": {"share_drifted": 0.6 if drift else 0.1}},
                                    metrics={"roc_auc": 0.8}, drift_share=0.6 if drift else 0.1, drift_detected=drift,
                                    fairness_breach=fairness_breach)
        self.runs[version_id] = run_id
        return run_id

    def deploy(self, version_id: UUID, *, target: str = "local", size: str = "small") -> UUID:
        """A deployment provisioned as a deploy worker records it (the version becomes deployed)."""
        deployment_id = self.app.request_deployment(self.manager, version_id, target=target, size=size).id
        self.app.start_deployment(deployment_id, worker="w1", attempt=1, lease_seconds=30)
        self.app.complete_deployment(deployment_id, worker="w1", attempt=1, endpoint="/v1/predict",
                                     resources=[{"type": "local-serving", "id": str(deployment_id)}])
        return deployment_id

    def terminate(self, deployment_id: UUID, *, reason: str = "superseded") -> UUID:
        """A deployment terminated and released, as a deploy worker records it."""
        termination_id = self.app.terminate_deployment(self.manager, deployment_id, reason=reason).id
        self.app.start_termination(termination_id, worker="w1", attempt=1, lease_seconds=30)
        self.app.complete_termination(termination_id, worker="w1", attempt=1,
                                      released=[{"type": "local-serving", "id": str(deployment_id)}])
        return termination_id

    def document(self) -> None:
        for section in ("model_info", "domain_context", "fairness_bias", "provenance", "consent", "risk_classification"):
            self.app.edit_section(self.compliance, self.model_id, section, f"{section} documented")

    def validated_version(self, **batch: bool) -> UUID:
        version_id = self.staged_version()
        self.batch_run(version_id, **batch)
        return version_id

    def approved_version(self) -> UUID:
        version_id = self.validated_version()
        self.document()  # after the version exists: documentation older than the latest training is stale
        self.app.approve(self.manager, version_id, findings="meets policy", batch_run_id=self.runs[version_id])
        return version_id


def make_world() -> World:
    app = Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, artifacts=MemoryArtifacts())
    admin_key = app.create_admin("root").api_key
    admin = app.authenticate(admin_key)
    actors = {Role.SUPERADMIN: admin}
    keys = {"root": admin_key}
    for role in ROLES[1:]:
        name = role.value.replace("_", "-")
        app.create_user(admin, name, role.value)
        keys[name] = app.issue_api_key(admin, name, "test").api_key
        actors[role] = app.authenticate(keys[name])
    app.create_user(admin, "other-ds", "data_scientist")
    keys["other-ds"] = app.issue_api_key(admin, "other-ds", "test").api_key
    world = World(app, actors, keys, other_data_scientist=app.authenticate(keys["other-ds"]))
    world.dataset_id = app.register_dataset(world.ds, name="applications 2026", source="s3://bank/apps.csv",
                                            schema={"age": "integer", "income": "float", "defaulted": "boolean"},
                                            row_count=1000, content_hash="cd" * 32).id
    world.model_id = app.register_model(world.ds, name="credit-default").id
    return world
