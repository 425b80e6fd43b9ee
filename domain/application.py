"""The governance application service: every command authenticates its actor, checks the rules, and either
saves its events or records the refusal (an AccessDenied event) and raises a typed error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from .access import Erasure, Refusal
from .compliance import ComplianceConfig, ComplianceScore, score
from .datasets import Dataset
from .errors import (
    ArtifactMismatch,
    Conflict,
    InvalidInput,
    NotFound,
    Refused,
    Unauthenticated,
)
from .models import Model, ModelVersion
from .roles import Action, Actor, Role, check_allowed, check_can_read
from .users import (
    NAMESPACE,
    ApiKey,
    User,
    api_key_id_for,
    check_username,
    hash_api_key,
    new_api_key,
    parse_api_key,
    user_id_for,
)

T = TypeVar("T")
INSTALLATION_ID = uuid5(NAMESPACE, "installation")

#: The ledger position of the last event this context recorded (each HTTP request runs in its own context).
_recorded_position: ContextVar[int | None] = ContextVar("recorded_position", default=None)


class ArtifactStore(Protocol):
    """Where model artifacts live, content-addressed by SHA-256 (a directory, or S3)."""

    def put(self, data: bytes) -> str: ...


class Vault(Protocol):
    """Per-subject encryption of personal data, keys outside the event store (crypto-shredding)."""

    def encrypt(self, subject: str, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def erase(self, subject: str) -> bool: ...


class Installation(Aggregate):
    """Marks that the first superadmin exists, so `create-admin` works exactly once."""

    @event("AdminBootstrapped")
    def __init__(self, admin_id: UUID) -> None:
        self.admin_id = admin_id

    @staticmethod
    def create_id(admin_id: UUID) -> UUID:
        return INSTALLATION_ID


class Governance(Application[UUID]):
    """All governance aggregates live in one application, so one ledger chains every event."""

    name = "Ledger"

    def __init__(self, *args: Any, artifacts: ArtifactStore | None = None, vault: Vault | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.artifacts = artifacts
        self.vault = vault

    # -- plumbing --------------------------------------------------------------------------------

    def _get(self, aggregate_id: UUID, kind: type[T], what: str) -> T:
        try:
            found = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}") from None
        if not isinstance(found, kind):
            raise NotFound(f"no {what} {aggregate_id}")
        return found

    def _store(self, *aggregates: Aggregate) -> None:
        try:
            recordings = self.save(*aggregates)
        except IntegrityError:
            raise Conflict("another command changed this first; reload and try again") from None
        if recordings:
            _recorded_position.set(recordings[-1].notification.id - 1)

    @staticmethod
    def recorded_position() -> int | None:
        """The ledger position of the last event recorded by a command in this context (thread or request)."""
        return _recorded_position.get()

    def _guarded(self, actor: Actor, action: Action, subject: str, command: Callable[[], T]) -> T:
        """Run a command; if the rules refuse it, record who tried what and why, then raise."""
        _recorded_position.set(None)  # a command that records nothing answers no position
        try:
            return command()
        except Refused as refusal:
            self.save(Refusal(actor.user_id, actor.username, actor.role.value, action.value, subject, refusal.code, refusal.message))
            raise

    def authorize(self, actor: Actor, action: Action, subject: str) -> None:
        """Check an action that has no command of its own here (reads, exports); a refusal is recorded."""
        self._guarded(actor, action, subject, lambda: check_allowed(actor, action))

    # -- users and keys --------------------------------------------------------------------------

    def create_admin(self, username: str) -> tuple[UUID, str]:
        """The first superadmin and its first API key (returned once). Refused once an admin exists."""
        check_username(username)
        if self._exists(INSTALLATION_ID):
            raise Conflict("the first administrator already exists; an administrator's key creates further users")
        user = User(username, Role.SUPERADMIN, created_by=username)
        key, token = self._new_key(user, "bootstrap", issued_by=username)
        self._store(user, key, Installation(user.id))
        return user.id, token

    def is_installed(self) -> bool:
        """Whether the first superadmin exists."""
        return self._exists(INSTALLATION_ID)

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    @staticmethod
    def _new_key(user: User, label: str, issued_by: str) -> tuple[ApiKey, str]:
        key_id, token = new_api_key()
        user.record_key(key_id, label, issued_by)
        return ApiKey(key_id, user.id, label, hash_api_key(token), issued_by), token

    def authenticate(self, token: str) -> Actor:
        """The actor behind an API key; unknown, malformed and revoked keys are refused alike."""
        key_id = parse_api_key(token)
        try:
            key = self.repository.get(api_key_id_for(key_id))
        except AggregateNotFoundError:
            raise Unauthenticated("the API key is not valid") from None
        key.check_key(token)
        user = self._get(key.user_id, User, "user")
        if not user.active:
            raise Unauthenticated("the user of this API key is deactivated")
        return Actor(user.id, user.username, user.role)

    def create_user(self, actor: Actor, username: str, role: str, *, email: str | None = None) -> UUID:
        """A user; their e-mail, personal data, is stored only encrypted under the user's own subject key."""
        def command() -> UUID:
            check_allowed(actor, Action.MANAGE_USERS)
            check_username(username)
            parsed = Role.parse(role)
            if self._exists(user_id_for(username)):
                raise Conflict(f"user {username} already exists")
            identity = None
            if email is not None:
                if not isinstance(email, str) or "@" not in email or len(email) > 320:
                    raise InvalidInput("an e-mail address has an '@' and at most 320 characters")
                if self.vault is None:
                    raise InvalidInput("this service has no subject-key vault configured for personal data")
                identity = self.vault.encrypt(str(user_id_for(username)), email)
            user = User(username, parsed, created_by=actor.username, identity=identity)
            self._store(user)
            return user.id

        return self._guarded(actor, Action.MANAGE_USERS, f"user {username}", command)

    def user_email(self, actor: Actor, username: str) -> str | None:
        """The user's e-mail, decrypted; "[erased]" once their subject key is destroyed."""
        def command() -> str | None:
            check_allowed(actor, Action.MANAGE_USERS)
            user = self._get(user_id_for(check_username(username)), User, "user")
            if user.identity is None or self.vault is None:
                return None
            return self.vault.decrypt(user.identity)

        return self._guarded(actor, Action.MANAGE_USERS, f"user {username}", command)

    def erase_subject(self, actor: Actor, subject: str, *, reason: str) -> bool:
        """Record SubjectErased, then destroy the subject's key (again, if an earlier attempt stopped halfway)."""
        def command() -> bool:
            check_allowed(actor, Action.MANAGE_USERS)
            if self.vault is None:
                raise InvalidInput("this service has no subject-key vault configured")
            if not isinstance(reason, str) or not reason.strip():
                raise InvalidInput("an erasure records its reason (for example the request's reference)")
            if not self._exists(Erasure.create_id(subject)):
                self._store(Erasure(subject, actor.username, reason.strip()))
            return self.vault.erase(subject)

        return self._guarded(actor, Action.MANAGE_USERS, f"data subject {subject}", command)

    def change_role(self, actor: Actor, username: str, role: str) -> None:
        def command() -> None:
            check_allowed(actor, Action.MANAGE_USERS)
            user = self._get(user_id_for(check_username(username)), User, "user")
            user.change_role(Role.parse(role), actor.username)
            self._store(user)

        self._guarded(actor, Action.MANAGE_USERS, f"user {username}", command)

    def issue_api_key(self, actor: Actor, username: str, label: str) -> tuple[str, str]:
        """(key id, key); the key is shown this once and stored only as its hash."""
        def command() -> tuple[str, str]:
            check_allowed(actor, Action.MANAGE_USERS)
            user = self._get(user_id_for(check_username(username)), User, "user")
            key, token = self._new_key(user, str(label or "")[:100], issued_by=actor.username)
            self._store(user, key)
            return key.key_id, token

        return self._guarded(actor, Action.MANAGE_USERS, f"user {username}", command)

    def revoke_api_key(self, actor: Actor, key_id: str) -> None:
        def command() -> None:
            check_allowed(actor, Action.MANAGE_USERS)
            key = self._get(api_key_id_for(key_id), ApiKey, "API key")
            user = self._get(key.user_id, User, "user")
            key.revoke(actor.username)
            user.record_key_revoked(key_id, actor.username)
            self._store(key, user)

        self._guarded(actor, Action.MANAGE_USERS, f"API key {key_id}", command)

    def list_api_keys(self, actor: Actor, username: str) -> list[dict[str, Any]]:
        def command() -> list[dict[str, Any]]:
            check_allowed(actor, Action.MANAGE_USERS)
            user = self._get(user_id_for(check_username(username)), User, "user")
            return [{"key_id": k, **v} for k, v in user.keys.items()]

        return self._guarded(actor, Action.MANAGE_USERS, f"user {username}", command)

    # -- data and models -------------------------------------------------------------------------

    def register_dataset(self, actor: Actor, *, name: str, source: str, schema: dict[str, str], row_count: int,
                         content_hash: str) -> UUID:
        def command() -> UUID:
            check_allowed(actor, Action.TRAIN)
            dataset = Dataset.register(name=name, source=source, schema=schema, row_count=row_count,
                                       content_hash=content_hash, registered_by=actor.username)
            self._store(dataset)
            return dataset.id

        return self._guarded(actor, Action.TRAIN, f"dataset {name}", command)

    def get_dataset(self, dataset_id: UUID) -> Dataset:
        return self._get(dataset_id, Dataset, "dataset")

    def register_model(self, actor: Actor, *, name: str, description: str = "") -> UUID:
        def command() -> UUID:
            check_allowed(actor, Action.TRAIN)
            model = Model.register(name=name, description=description, owner=actor.user_id, registered_by=actor.username)
            self._store(model)
            return model.id

        return self._guarded(actor, Action.TRAIN, f"model {name}", command)

    def import_version(self, actor: Actor, model_id: UUID, *, artifact: bytes, declared_hash: str, estimator: str,
                       metrics: dict[str, float], input_schema: dict[str, str], target: str,
                       dataset_ids: list[UUID]) -> UUID:
        """Import a version trained elsewhere: its artifact must hash to what the data scientist declared."""
        def command() -> UUID:
            check_allowed(actor, Action.TRAIN)
            model = self._get(model_id, Model, "model")
            for dataset_id in dataset_ids:
                self.get_dataset(dataset_id)
            actual = hashlib.sha256(artifact).hexdigest()
            if actual != declared_hash:
                raise ArtifactMismatch(f"the artifact's SHA-256 is {actual}, not the declared {declared_hash}")
            version = ModelVersion.import_trained(
                model_id=model.id, number=model.next_number, artifact_hash=actual, estimator=estimator, metrics=metrics,
                input_schema=input_schema, target=target, dataset_ids=list(dataset_ids), trained_by=actor.user_id,
                trained_by_name=actor.username)
            if self.artifacts is None:
                raise InvalidInput("this service has no artifact store configured")
            self.artifacts.put(artifact)  # content-addressed: storing twice is harmless, so before the events
            model.add_version(version.id, version.number, actor.username)
            self._store(model, version)
            return version.id

        return self._guarded(actor, Action.TRAIN, f"model {model_id}", command)

    def get_model(self, actor: Actor, model_id: UUID) -> Model:
        model = self._get(model_id, Model, "model")
        self._guarded(actor, Action.READ, f"model {model_id}", lambda: check_can_read(actor, model.owner))
        return model

    def get_version(self, actor: Actor, version_id: UUID) -> ModelVersion:
        version = self._get(version_id, ModelVersion, "model version")
        self.get_model(actor, version.model_id)
        return version

    def _version_step(self, actor: Actor, action: Action, version_id: UUID, step: Callable[[ModelVersion], None]) -> None:
        def command() -> None:
            check_allowed(actor, action)
            version = self._get(version_id, ModelVersion, "model version")
            step(version)
            self._store(version)

        self._guarded(actor, action, f"model version {version_id}", command)

    def export_to_staging(self, actor: Actor, version_id: UUID) -> None:
        self._version_step(actor, Action.TRAIN, version_id, lambda v: v.export_to_staging(actor.user_id))

    def record_batch_run(self, actor: Actor, version_id: UUID, *, run_id: str, rows: int, metrics: dict[str, float],
                         report_hashes: dict[str, str], drift_share: float, drift_detected: bool,
                         fairness_breach: bool) -> None:
        """Evidence of a completed batch inference run (the batch worker records it; so may a person who ran one)."""
        self._version_step(actor, Action.RUN_BATCH_INFERENCE, version_id, lambda v: v.record_batch_run(
            run_id=run_id, rows=rows, metrics=metrics, report_hashes=report_hashes, drift_share=drift_share,
            drift_detected=drift_detected, fairness_breach=fairness_breach, by=actor.user_id))

    def approve(self, actor: Actor, version_id: UUID, *, findings: str, justification: str | None = None) -> None:
        def step(version: ModelVersion) -> None:
            model = self._get(version.model_id, Model, "model")
            blocking = score(model, version).blocking_approval
            version.approve(by=actor.user_id, by_name=actor.username, findings=findings, justification=justification,
                            missing_mandatory=blocking)

        self._version_step(actor, Action.APPROVE, version_id, step)

    def reject(self, actor: Actor, version_id: UUID, *, findings: str) -> None:
        self._version_step(actor, Action.APPROVE, version_id,
                           lambda v: v.reject(by=actor.user_id, by_name=actor.username, findings=findings))

    def deploy(self, actor: Actor, version_id: UUID, *, target: str = "local") -> None:
        self._version_step(actor, Action.DEPLOY, version_id, lambda v: v.deploy(target=target, by=actor.user_id))

    def terminate(self, actor: Actor, version_id: UUID, *, reason: str) -> None:
        self._version_step(actor, Action.DEPLOY, version_id, lambda v: v.terminate(by=actor.user_id, reason=reason))

    def retire(self, actor: Actor, version_id: UUID, *, reason: str) -> None:
        self._version_step(actor, Action.DEPLOY, version_id, lambda v: v.retire(by=actor.user_id, reason=reason))

    # -- compliance ------------------------------------------------------------------------------

    def _model_step(self, actor: Actor, action: Action, model_id: UUID, step: Callable[[Model], None]) -> None:
        def command() -> None:
            check_allowed(actor, action)
            model = self._get(model_id, Model, "model")
            if action is Action.EDIT_COMPLIANCE:
                check_can_read(actor, model.owner)  # data scientists document only their own models
            step(model)
            self._store(model)

        self._guarded(actor, action, f"model {model_id}", command)

    def configure_compliance(self, actor: Actor, model_id: UUID, *, risk_tier: str, applicable: list[str] | None = None,
                             mandatory: list[str] | None = None) -> None:
        config = ComplianceConfig.build(risk_tier, applicable, mandatory)
        self._model_step(actor, Action.CONFIGURE_COMPLIANCE, model_id, lambda m: m.configure_compliance(config, actor.username))

    def edit_section(self, actor: Actor, model_id: UUID, section: str, content: str) -> None:
        self._model_step(actor, Action.EDIT_COMPLIANCE, model_id, lambda m: m.edit_section(section, content, actor.username))

    def register_monitoring(self, actor: Actor, model_id: UUID) -> None:
        self._model_step(actor, Action.REGISTER_MONITORING, model_id, lambda m: m.register_monitoring(actor.username))

    def compliance_score(self, actor: Actor, model_id: UUID) -> ComplianceScore:
        model = self.get_model(actor, model_id)
        latest = self._get(model.version_ids[-1], ModelVersion, "model version") if model.version_ids else None
        return score(model, latest)
