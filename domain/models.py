"""Models and their versions: their lifecycle (trained, staged, validated, approved or rejected, deployed,
terminated, retired) and the segregation-of-duties rules that guard it."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from .compliance import SECTIONS, ComplianceConfig, RiskTier
from .datasets import check_schema
from .errors import (
    IllegalTransition,
    InvalidInput,
    PreconditionFailed,
    SegregationOfDuties,
)
from .inputs import INT64_MAX, MAX_ITEMS, check_text
from .timed import TimedAggregate

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MIN_JUSTIFICATION = 20


class Status(StrEnum):
    TRAINED = "trained"
    STAGED = "staged"
    VALIDATED = "validated"
    APPROVED = "approved"
    REJECTED = "rejected"
    DEPLOYED = "deployed"
    TERMINATED = "terminated"
    RETIRED = "retired"


#: step → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "export to staging": (frozenset({Status.TRAINED}), Status.STAGED),
    "record a batch run": (frozenset({Status.STAGED, Status.VALIDATED}), Status.VALIDATED),
    "approve": (frozenset({Status.VALIDATED}), Status.APPROVED),
    "reject": (frozenset({Status.VALIDATED}), Status.REJECTED),
    "deploy": (frozenset({Status.APPROVED, Status.DEPLOYED}), Status.DEPLOYED),
    "terminate": (frozenset({Status.DEPLOYED}), Status.TERMINATED),
    "retire": (frozenset({Status.APPROVED, Status.REJECTED, Status.TERMINATED}), Status.RETIRED),
}


def version_id_for(model_id: UUID, number: int) -> UUID:
    return uuid5(model_id, f"version:{number}")


def _check_metrics(metrics: Any, what: str) -> dict[str, float]:
    if not isinstance(metrics, dict) or not metrics or len(metrics) > MAX_ITEMS:
        raise InvalidInput(f"{what} must be a non-empty mapping of at most {MAX_ITEMS} metric names to numbers")
    for name, value in metrics.items():
        check_text(name, f"{what}: a metric's name", max_length=200)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(f"{what}: metric {name!r} must be a finite number, got {value!r}")
    return {k: float(v) for k, v in metrics.items()}


def _check_hash(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidInput(f"{what} must be 64 lowercase hex digits (SHA-256)")
    return value


class Model(TimedAggregate):
    """A governed model: its owner, its versions and its compliance documentation and configuration."""

    @event("Registered")
    def __init__(self, name: str, description: str, owner: UUID, registered_by: str) -> None:
        self.name = name
        self.description = description
        self.owner = owner
        self.registered_by = registered_by
        self.version_ids: list[UUID] = []
        self.config = ComplianceConfig.default()
        self.sections: dict[str, dict[str, Any]] = {}
        self.monitored = False

    @classmethod
    def register(cls, *, name: str, description: str, owner: UUID, registered_by: str) -> Model:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            raise InvalidInput("a model needs a name of 1 to 200 characters")
        return cls(name.strip(), check_text(description or "", "a model's description", required=False), owner, registered_by)

    @event("VersionAdded")
    def add_version(self, version_id: UUID, number: int, added_by: str | None = None) -> None:
        self.version_ids.append(version_id)

    @property
    def next_number(self) -> int:
        return len(self.version_ids) + 1

    def configure_compliance(self, config: ComplianceConfig, by: str) -> None:
        self._configure(config.risk_tier.value, sorted(config.applicable), sorted(config.mandatory), by,
                        dict(config.overrides) or None)

    @event("ComplianceConfigured")
    def _configure(self, risk_tier: str, applicable: list[str], mandatory: list[str], configured_by: str,
                   thresholds: dict[str, float] | None = None) -> None:
        self.config = ComplianceConfig(RiskTier(risk_tier), frozenset(applicable), frozenset(mandatory),
                                       tuple(sorted((thresholds or {}).items())))

    def edit_section(self, section: str, content: str, by: str) -> None:
        if section not in SECTIONS or not SECTIONS[section].manual:
            manual = ", ".join(s for s, d in SECTIONS.items() if d.manual)
            raise InvalidInput(f"{section!r} is not a section people write; they are {manual}")
        if not isinstance(content, str) or not content.strip():
            raise InvalidInput(f"section {section} needs some content")
        before = self.sections.get(section, {}).get("content")
        self._edit(section, before, content, by)

    @event("ComplianceSectionEdited")
    def _edit(self, section: str, before: str | None, after: str, edited_by: str) -> None:
        self.sections[section] = {"content": after, "edited_by": edited_by, "edited_at": self.modified_on}

    @event("MonitoringRegistered")
    def register_monitoring(self, registered_by: str) -> None:
        self.monitored = True


class ModelVersion(TimedAggregate):
    """One trained version of a model, walking trained → staged → validated → approved | rejected → deployed → terminated → retired."""

    @event("Imported")
    def __init__(self, model_id: UUID, number: int, artifact_hash: str, artifact_format: str, estimator: str,
                 metrics: dict[str, float], input_schema: dict[str, str], target: str, dataset_ids: list[UUID],
                 trained_by: UUID, trained_by_name: str, job_id: UUID | None = None, task: str | None = None,
                 feature_domains: dict[str, Any] | None = None, baseline: dict[str, Any] | None = None,
                 leaderboard: list[dict[str, Any]] | None = None, protected_attributes: list[str] | None = None,
                 classes: list[Any] | None = None) -> None:
        self.model_id = model_id
        self.number = number
        self.artifact_hash = artifact_hash
        self.artifact_format = artifact_format
        self.estimator = estimator
        self.metrics = metrics
        self.input_schema = input_schema
        self.target = target
        self.dataset_ids = dataset_ids
        self.trained_by = trained_by
        self.trained_by_name = trained_by_name
        # What a version trained here also carries (an imported one has none of it): the job that trained it, the
        # observed domain of each input, the reference distributions drift is measured against, the search's
        # leaderboard, the attributes kept out of the features for fairness checks, and the classes it predicts.
        self.job_id = job_id
        self.task = task
        self.feature_domains = feature_domains or {}
        self.baseline = baseline or {}
        self.leaderboard = leaderboard or []
        self.protected_attributes = protected_attributes or []
        self.classes = classes
        self.status = Status.TRAINED
        self.exported_by: UUID | None = None
        self.batch_runs: list[dict[str, Any]] = []
        self.decision: dict[str, Any] | None = None
        self.deployment: dict[str, Any] | None = None  # the latest deployment provisioned
        self.deployments: list[str] = []  # the deployments that serve it now
        self.pending: list[str] = []  # deployments requested and not yet serving, failed or cancelled

    class Trained(TimedAggregate.Created):
        """A version trained by a govledger training job (not imported)."""

        model_id: UUID
        number: int
        artifact_hash: str
        artifact_format: str
        estimator: str
        metrics: dict[str, float]
        input_schema: dict[str, str]
        target: str
        dataset_ids: list[UUID]
        trained_by: UUID
        trained_by_name: str
        job_id: UUID
        task: str
        feature_domains: dict[str, Any]
        baseline: dict[str, Any]
        leaderboard: list[dict[str, Any]]
        protected_attributes: list[str]
        classes: list[Any] | None

    @staticmethod
    def create_id(model_id: UUID, number: int, **_: Any) -> UUID:
        return version_id_for(model_id, number)

    @classmethod
    def from_training(cls, *, model_id: UUID, number: int, artifact_hash: str, estimator: str, metrics: dict[str, float],
                      input_schema: dict[str, str], target: str | None, dataset_ids: list[UUID], trained_by: UUID,
                      trained_by_name: str, job_id: UUID, task: str, feature_domains: dict[str, Any],
                      baseline: dict[str, Any], leaderboard: list[dict[str, Any]], protected_attributes: list[str],
                      classes: list[Any] | None) -> ModelVersion:
        """A version a training job produced; clustering versions have no target (recorded as "")."""
        _check_hash(artifact_hash, "artifact hash")
        check_text(estimator, "the estimator's name", max_length=200)
        check_schema(input_schema)
        if target and target in input_schema:
            raise InvalidInput("the target must name the predicted column, not one of the input features")
        version: ModelVersion = cls._create(
            cls.Trained, id=version_id_for(model_id, number), model_id=model_id, number=number,
            artifact_hash=artifact_hash, artifact_format="skops", estimator=estimator,
            metrics=_check_metrics(metrics, "training metrics"), input_schema=dict(input_schema), target=target or "",
            dataset_ids=list(dataset_ids), trained_by=trained_by, trained_by_name=trained_by_name, job_id=job_id,
            task=task, feature_domains=feature_domains, baseline=baseline, leaderboard=leaderboard,
            protected_attributes=list(protected_attributes), classes=classes)
        return version

    @classmethod
    def import_trained(cls, *, model_id: UUID, number: int, artifact_hash: str, estimator: str, metrics: dict[str, float],
                       input_schema: dict[str, str], target: str, dataset_ids: list[UUID], trained_by: UUID,
                       trained_by_name: str) -> ModelVersion:
        _check_hash(artifact_hash, "artifact hash")
        check_text(estimator, "the estimator's name", max_length=200)
        check_schema(input_schema)
        if not isinstance(target, str) or not target or target in input_schema:
            raise InvalidInput("the target must name the predicted column, not one of the input features")
        if not dataset_ids:
            raise InvalidInput("a version needs its lineage: the ids of the datasets it was trained on")
        return cls(model_id, number, artifact_hash, "skops", estimator, _check_metrics(metrics, "validation metrics"),
                   dict(input_schema), target, list(dataset_ids), trained_by, trained_by_name)

    def _step(self, step: str) -> Status:
        sources, target = TRANSITIONS[step]
        if self.status not in sources:
            raise IllegalTransition(f"version {self.number} is {self.status}; it cannot {step} (only from "
                                    f"{', '.join(sorted(sources))})")
        return target

    @property
    def last_batch_run(self) -> dict[str, Any] | None:
        """The latest run govledger computed (posted evidence is never evidence of anything)."""
        computed = [r for r in self.batch_runs if r.get("computed")]
        return computed[-1] if computed else None

    def export_to_staging(self, by: UUID) -> None:
        self._step("export to staging")
        self._exported(by)

    @event("Exported")
    def _exported(self, exported_by: UUID) -> None:
        self.exported_by = exported_by
        self.status = Status.STAGED

    def record_batch_run(self, *, run_id: str, rows: int, metrics: dict[str, float], report_hashes: dict[str, str],
                         drift_share: float, drift_detected: bool, fairness_breach: bool, by: UUID) -> None:
        """A batch run the system computed (a BatchRun's completion, saved with it): the version becomes validated."""
        self._step("record a batch run")
        check_text(run_id, "a batch run's id", max_length=200)
        if not isinstance(rows, int) or isinstance(rows, bool) or not 0 < rows <= INT64_MAX:
            raise InvalidInput(f"a batch run scores from 1 to {INT64_MAX} rows")
        if not isinstance(report_hashes, dict) or len(report_hashes) > MAX_ITEMS:
            raise InvalidInput(f"a batch run names at most {MAX_ITEMS} reports by their hashes")
        for name, digest in report_hashes.items():
            _check_hash(digest, f"report hash {name!r}")
        if not 0.0 <= float(drift_share) <= 1.0:
            raise InvalidInput("the share of drifted features is between 0 and 1")
        self._batch_run(run_id, rows, _check_metrics(metrics, "batch metrics"), dict(report_hashes), float(drift_share),
                        bool(drift_detected), bool(fairness_breach), by, True)

    @event("BatchRunCompleted")
    def _batch_run(self, run_id: str, rows: int, metrics: dict[str, float], report_hashes: dict[str, str],
                   drift_share: float, drift_detected: bool, fairness_breach: bool, completed_for: UUID,
                   computed: bool = False) -> None:
        # `computed` is absent from the runs people once posted as evidence: they still load, shown as posted, and
        # never satisfy the approval gate
        self.batch_runs.append({"run_id": run_id, "rows": rows, "metrics": metrics, "report_hashes": report_hashes,
                                "drift_share": drift_share, "drift_detected": drift_detected,
                                "fairness_breach": fairness_breach, "at": self.modified_on, "computed": computed})
        self.status = Status.VALIDATED

    def computed_run(self, run_id: Any) -> dict[str, Any] | None:
        return next((r for r in self.batch_runs if r["run_id"] == str(run_id) and r.get("computed")), None)

    def check_reviewer(self, reviewer: UUID, reviewer_name: str) -> None:
        """Nobody approves or rejects a version they trained or exported."""
        if reviewer == self.trained_by:
            raise SegregationOfDuties(f"{reviewer_name} trained version {self.number} and may not review it")
        if reviewer == self.exported_by:
            raise SegregationOfDuties(f"{reviewer_name} exported version {self.number} and may not review it")

    def approve(self, *, by: UUID, by_name: str, findings: str, justification: str | None, batch_run_id: Any,
                missing_mandatory: list[str], judged_as_now: bool = True) -> None:
        """Approve on the evidence of one batch run the system computed, named by the reviewer: a later run cannot
        stand in for the one they looked at, and evidence people posted never satisfies the gate."""
        if self.status is Status.STAGED:
            raise PreconditionFailed(f"version {self.number} has no completed batch inference run; run one before approval")
        self._step("approve")
        self.check_reviewer(by, by_name)
        if missing_mandatory:
            raise PreconditionFailed(f"mandatory compliance sections are incomplete: {', '.join(missing_mandatory)}")
        if batch_run_id is None:
            raise PreconditionFailed("an approval names the batch run it relies on (batch_run_id)")
        run = self.computed_run(batch_run_id)
        if run is None:
            raise PreconditionFailed(f"batch run {str(batch_run_id)[:64]} is not a run govledger computed on version "
                                     f"{self.number}; evidence posted by people does not satisfy the approval gate")
        if not judged_as_now:
            raise PreconditionFailed(f"batch run {run['run_id']} was judged under thresholds the model's compliance "
                                     "config has changed since; request a new batch run and approve on it")
        # The named run, and every run computed after it: naming an older clean run does not make the drift or
        # fairness breach a later run found go away (cherry-picking evidence), so it too needs the justification.
        judged = [r for r in self.batch_runs[self.batch_runs.index(run):] if r.get("computed")]
        for shown in judged:
            breach = [name for name, hit in (("drift", shown["drift_detected"]),
                                             ("a fairness breach", shown["fairness_breach"])) if hit]
            if breach and len((justification or "").strip()) < MIN_JUSTIFICATION:
                later = "" if shown is run else f", computed after the named run {run['run_id']},"
                raise PreconditionFailed(f"batch run {shown['run_id']}{later} shows {' and '.join(breach)}; approval "
                                         f"needs a written justification of at least {MIN_JUSTIFICATION} characters")
        self._approved(by, _findings(findings), (justification or "").strip() or None, run["run_id"])

    @event("Approved")
    def _approved(self, approved_by: UUID, findings: str, justification: str | None, batch_run_id: str) -> None:
        self.status = Status.APPROVED
        self.decision = {"by": approved_by, "findings": findings, "justification": justification, "at": self.modified_on}

    def reject(self, *, by: UUID, by_name: str, findings: str) -> None:
        if self.status is Status.STAGED:
            raise PreconditionFailed(f"version {self.number} has no completed batch inference run to review")
        self._step("reject")
        self.check_reviewer(by, by_name)
        self._rejected(by, _findings(findings))

    @event("Rejected")
    def _rejected(self, rejected_by: UUID, findings: str) -> None:
        self.status = Status.REJECTED
        self.decision = {"by": rejected_by, "findings": findings, "at": self.modified_on}

    def check_deployable(self) -> None:
        """Only an approved version is deployed (one already deployed may be deployed to another target too)."""
        self._step("deploy")

    def request_deployment(self, deployment_id: UUID, *, by: UUID) -> None:
        """A deployment of this version is requested: until it serves, fails or is cancelled, ending the version's
        other deployments does not end the version."""
        self.check_deployable()
        self._deployment_requested(deployment_id, by)

    @event("DeploymentRequested")
    def _deployment_requested(self, deployment_id: UUID, requested_by: UUID | None = None) -> None:
        self.pending.append(str(deployment_id))

    def deploy(self, *, target: str, by: UUID, deployment_id: UUID) -> None:
        """A deployment of this version is provisioned and serves it."""
        self._step("deploy")
        self._deployed(target, by, deployment_id)

    @event("Deployed")
    def _deployed(self, target: str, deployed_by: UUID, deployment_id: UUID | None = None) -> None:
        self.status = Status.DEPLOYED
        self.deployment = {"target": target, "by": deployed_by, "at": self.modified_on}
        self.pending = [d for d in self.pending if d != str(deployment_id)]
        self.deployments.append(str(deployment_id))

    def end_deployment(self, *, deployment_id: UUID, by: UUID, reason: str) -> None:
        """One of its deployments ended (released, failed or cancelled). The version is terminated with the last one
        that served it, once none is serving and none is on its way."""
        ident = str(deployment_id)
        if ident not in self.deployments and ident not in self.pending:
            return
        serving = [d for d in self.deployments if d != ident]
        coming = [d for d in self.pending if d != ident]
        if self.status is Status.DEPLOYED and not serving and not coming:
            self._terminated(by, reason, deployment_id)
        else:
            self._deployment_ended(deployment_id, reason, by)

    @event("Terminated")
    def _terminated(self, terminated_by: UUID, reason: str, deployment_id: UUID | None = None) -> None:
        self.deployments = [d for d in self.deployments if d != str(deployment_id)]
        self.pending = [d for d in self.pending if d != str(deployment_id)]
        self.status = Status.TERMINATED

    @event("DeploymentEnded")
    def _deployment_ended(self, deployment_id: UUID, reason: str, ended_by: UUID | None = None) -> None:
        self.deployments = [d for d in self.deployments if d != str(deployment_id)]
        self.pending = [d for d in self.pending if d != str(deployment_id)]

    def retire(self, *, by: UUID, reason: str) -> None:
        self._step("retire")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("retiring a version records why")
        self._retired(by, reason.strip())

    @event("Retired")
    def _retired(self, retired_by: UUID, reason: str) -> None:
        self.status = Status.RETIRED


def _findings(findings: str) -> str:
    if not isinstance(findings, str) or not findings.strip():
        raise InvalidInput("a review records its validation findings")
    return findings.strip()
