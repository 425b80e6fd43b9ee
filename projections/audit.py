"""The audit trail (one row per event, refusals included) and the jobs read model (batch inference runs)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.roles import Action

from .registry import Lookups, kind_of
from .rows import Rows, dumps

#: (aggregate, event) → the action of the permission matrix (domain/roles.py) it exercised
ACTIONS: dict[tuple[str, str], Action] = {
    **{("Model", e): Action.TRAIN for e in ("Registered", "VersionAdded")},
    ("Model", "ComplianceConfigured"): Action.CONFIGURE_COMPLIANCE,
    ("Model", "ComplianceSectionEdited"): Action.EDIT_COMPLIANCE,
    ("Model", "MonitoringRegistered"): Action.REGISTER_MONITORING,
    **{("ModelVersion", e): Action.TRAIN for e in ("Imported", "Exported")},
    ("ModelVersion", "BatchRunCompleted"): Action.RUN_BATCH_INFERENCE,
    **{("ModelVersion", e): Action.APPROVE for e in ("Approved", "Rejected")},
    **{("ModelVersion", e): Action.DEPLOY for e in ("Deployed", "Terminated", "Retired", "DeploymentRequested",
                                                    "DeploymentEnded")},
    ("Dataset", "Registered"): Action.TRAIN,
    ("ModelVersion", "Trained"): Action.TRAIN,
}
#: aggregates whose every event exercises one action
OWNER_ACTIONS = {**{owner: Action.MANAGE_USERS for owner in ("User", "ApiKey", "Erasure", "Installation")},
                 "TrainingJob": Action.TRAIN, "BatchRun": Action.RUN_BATCH_INFERENCE,
                 **{owner: Action.DEPLOY for owner in ("Deployment", "Termination", "RoutingConfig", "RoutingKey")}}
ACTION_NAMES = {a.value: a.name.lower() for a in Action}

#: payload fields naming who acted, by name or by user id, in the order they are looked for. Not `username`: on
#: User.Created it names the new user, not the administrator who created them (`created_by`).
ACTOR_FIELDS = ("registered_by", "trained_by_name", "configured_by", "edited_by", "created_by", "changed_by",
                "issued_by", "revoked_by", "deactivated_by", "erased_by", "added_by", "exported_by", "completed_for",
                "approved_by", "rejected_by", "deployed_by", "terminated_by", "retired_by", "admin_id", "caller",
                "requested_by_name", "cancelled_by_name", "terminated_by_name", "configured_by_name", "created_by_name",
                "issued_by_name", "revoked_by_name", "ended_by", "requested_by", "worker",
                "key_id")  # last: a prediction is made by the routing key it names


#: how each kind of event reads in the audit trail
SUMMARIES: dict[tuple[str, str], Callable[[Any], str]] = {
    ("Model", "Registered"): lambda e: f"model {e.name} registered",
    ("Model", "VersionAdded"): lambda e: f"version {e.number} added",
    ("Model", "ComplianceConfigured"): lambda e: f"{e.risk_tier} risk; mandatory: {', '.join(e.mandatory) or 'none'}",
    ("Model", "ComplianceSectionEdited"): lambda e: f"section {e.section} {'edited' if e.before else 'written'}",
    ("ModelVersion", "Imported"): lambda e: f"version {e.number} imported ({e.estimator}, sha256 {e.artifact_hash[:12]}…)",
    ("ModelVersion", "BatchRunCompleted"): lambda e: (f"batch run {e.run_id}: {e.rows} rows, drift share {e.drift_share:.0%}"
                                                      + ("" if getattr(e, "computed", False) else " (posted, not computed)")),
    ("BatchRun", "Requested"): lambda e: f"batch run requested of version {e.version_id} on dataset {e.dataset_id}",
    ("BatchRun", "Started"): lambda e: f"batch run attempt {e.attempt} started by {e.worker}",
    ("BatchRun", "Completed"): lambda e: (f"batch run completed: {e.rows} rows"
                                          + (", drift" if e.drift_detected else "") + (", a fairness breach" if e.fairness_breach else "")),
    ("BatchRun", "Failed"): lambda e: f"batch run failed [{e.code}]: {e.reason}",
    ("BatchRun", "Cancelled"): lambda e: f"batch run cancelled{': ' + e.reason if e.reason else ''}",
    ("ModelVersion", "Approved"): lambda e: f"approved: {e.findings}",
    ("ModelVersion", "Rejected"): lambda e: f"rejected: {e.findings}",
    ("ModelVersion", "Deployed"): lambda e: f"deployed to {e.target}",
    ("ModelVersion", "Terminated"): lambda e: f"terminated: {e.reason}",
    ("ModelVersion", "DeploymentRequested"): lambda e: f"deployment {e.deployment_id} requested",
    ("ModelVersion", "DeploymentEnded"): lambda e: f"deployment {e.deployment_id} ended ({e.reason}); others serve or are on their way",
    ("ModelVersion", "Retired"): lambda e: f"retired: {e.reason}",
    ("ModelVersion", "Trained"): lambda e: f"version {e.number} trained by job {e.job_id} ({e.estimator}, sha256 {e.artifact_hash[:12]}…)",
    ("Dataset", "Registered"): lambda e: f"dataset {e.name} ({e.row_count} rows, sha256 {e.content_hash[:12]}…)",
    ("TrainingJob", "Requested"): lambda e: f"training requested: {e.task} of {e.target or 'clusters'} on dataset "
                                            f"{e.dataset_id}, {e.time_budget_seconds:g} s budget",
    ("TrainingJob", "Started"): lambda e: f"training attempt {e.attempt} started by {e.worker}",
    ("TrainingJob", "Completed"): lambda e: f"training completed: {e.family} {e.metric} {e.cv_mean:.4f} ± {e.cv_std:.4f} "
                                            f"after {e.candidates} candidates; version {e.version_id}",
    ("TrainingJob", "Failed"): lambda e: f"training failed [{e.code}]: {e.reason}",
    ("TrainingJob", "Cancelled"): lambda e: f"training cancelled{': ' + e.reason if e.reason else ''}",
    ("Deployment", "Requested"): lambda e: f"deployment of version {e.version_id} to {e.target} ({e.size}) requested",
    ("Deployment", "Started"): lambda e: f"provisioning attempt {e.attempt} started by {e.worker}",
    ("Deployment", "Provisioned"): lambda e: (f"provisioned: {len(e.resources)} resource(s)"
                                              + (f", serving at {e.endpoint}" if e.endpoint else "")),
    ("Deployment", "Failed"): lambda e: f"deployment failed [{e.code}]: {e.reason}",
    ("Deployment", "Cancelled"): lambda e: f"deployment cancelled{': ' + e.reason if e.reason else ''}",
    ("Deployment", "Routed"): lambda e: f"routing config {e.routing_config_id} sends traffic here",
    ("Deployment", "Unrouted"): lambda e: f"routing config {e.routing_config_id} no longer sends traffic here",
    ("Deployment", "TerminationRequested"): lambda e: f"termination requested: {e.reason}",
    ("Deployment", "TerminationFailed"): lambda e: f"termination failed [{e.code}]: {e.reason}",
    ("Deployment", "Terminated"): lambda e: f"terminated: {len(e.released)} resource(s) released",
    ("Termination", "Requested"): lambda e: f"release of deployment {e.deployment_id} ({e.target}) requested",
    ("Termination", "Started"): lambda e: f"release attempt {e.attempt} started by {e.worker}",
    ("Termination", "Completed"): lambda e: f"released {len(e.released)} resource(s)",
    ("Termination", "Failed"): lambda e: f"release failed [{e.code}]: {e.reason}",
    ("RoutingConfig", "Created"): lambda e: f"routing config {e.name} created",
    ("RoutingConfig", "Configured"): lambda e: (f"routing config {e.name} revision {e.revision}: {len(e.rules)} rule(s), "
                                                f"default version {e.default_version_id}"
                                                + (f" (rollback to revision {e.rollback_of})" if e.rollback_of else "")),
    ("RoutingConfig", "KeyIssued"): lambda e: f"routing key {e.key_id} issued",
    ("RoutingConfig", "KeyRevoked"): lambda e: f"routing key {e.key_id} revoked",
    ("RoutingKey", "Issued"): lambda e: f"routing key {e.key_id} issued",
    ("RoutingKey", "Revoked"): lambda e: "routing key revoked",
    ("Prediction", "Recorded"): lambda e: (f"{'shadow ' if e.shadow else ''}prediction {e.request_id}: {e.prediction!r} by "
                                           f"version {e.version_id}" + (f" (rule {e.rule})" if e.rule else " (default)")),
    ("User", "Created"): lambda e: f"user {e.username} created as {e.role}",
    ("User", "RoleChanged"): lambda e: f"role changed to {e.role}",
    ("ApiKey", "Issued"): lambda e: f"API key {e.key_id} issued",
    ("ApiKey", "Revoked"): lambda e: "API key revoked",
    ("Erasure", "SubjectErased"): lambda e: f"data subject {e.subject} erased: {e.reason}",
    ("Refusal", "AccessDenied"): lambda e: f"refused {e.action} on {_refused(e)}: {e.reason}",
    ("IdempotentRequest", "Answered"): lambda e: f"request {e.command} answered (idempotency key)",
}


def _refused(event: Any) -> str:
    """What a refusal was about, as people read it: "model version 1f…"."""
    kind = event.subject_kind.replace("_", " ")
    return f"{kind} {event.subject_id}" if event.subject_id else kind


def _summary(owner: str, name: str, event: Any) -> str:
    describe = SUMMARIES.get((owner, name))
    return describe(event) if describe else f"{owner} {name}"


@functools.cache
def _actor_field(cls: type, fields: tuple[str, ...]) -> str | None:
    """The payload field naming who acted, for one kind of event (cached: the same for every event of a kind)."""
    return next((f for f in ACTOR_FIELDS if f in fields), None)


class AuditTrail:
    """One row per event, written in batches; refused attempts carry outcome "refused" and the refused action.

    `recorded_by` is the latest event time up to each position (times need not rise with positions when
    writers race), so "the ledger as of time T" is a prefix of positions, found with one index probe.
    """

    def __init__(self, rows: Rows, lookups: Lookups) -> None:
        self.rows = rows
        self.lookups = lookups
        self.recorded_by: str | None = None  # read back from the last stored row after a restart

    def _actor(self, conn: Any, owner: str, event: Any) -> str | None:
        if owner == "Refusal":
            return str(event.username)
        field = _actor_field(type(event), tuple(vars(event)))
        value = getattr(event, field, None) if field else None
        if isinstance(value, UUID):
            return self.lookups.username(conn, str(value)) or str(value)
        return value if isinstance(value, str) else None

    def _model(self, conn: Any, owner: str, event: Any) -> str | None:
        if owner == "Model":
            return str(event.originator_id)
        if owner == "ModelVersion":
            return str(event.model_id) if hasattr(event, "model_id") else self.lookups.model_of_version(conn, str(event.originator_id))
        if owner == "BatchRun":
            return self.lookups.model_of_job(conn, str(event.originator_id)) if not hasattr(event, "model_id") else str(event.model_id)
        if owner == "TrainingJob":  # a request names its model if it has one; a completion names the model it made
            named = getattr(event, "model_id", None)
            return str(named) if named else self.lookups.model_of_job(conn, str(event.originator_id))
        if owner in ("Deployment", "Termination"):
            named = getattr(event, "model_id", None)
            return str(named) if named else self.lookups.model_of_deployment(conn, owner, str(event.originator_id))
        if owner == "Refusal" and event.subject_id:
            if event.subject_kind == "model_version":
                return self.lookups.model_of_version(conn, event.subject_id)
            if event.subject_kind == "model":
                return str(event.subject_id) if _is_uuid(event.subject_id) else None  # a model refused by its name has no id yet
        return None

    @staticmethod
    def _subject(owner: str, event: Any) -> str | None:
        if owner == "User":
            return str(event.originator_id)
        if owner == "Erasure":
            return str(event.subject)
        if owner == "Refusal" and event.subject_kind == "data_subject":
            return str(event.subject_id)
        return None

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        owner, name = kind_of(event)
        if owner == "Refusal":
            action, outcome = ACTION_NAMES.get(event.action, event.action), "refused"
        else:
            known = ACTIONS.get((owner, name)) or OWNER_ACTIONS.get(owner)
            action, outcome = (known.name.lower() if known else "other"), "recorded"
        if self.recorded_by is None:
            row = conn.execute(f"SELECT recorded_by FROM audit_trail WHERE notification_id = {self.rows.p}", (nid - 1,)).fetchone()
            self.recorded_by = row[0] if row else ""
        self.recorded_by = max(self.recorded_by, recorded_at)
        self.rows.insert("audit_trail", {
            "notification_id": nid, "recorded_at": recorded_at, "recorded_by": self.recorded_by,
            "aggregate_id": str(event.originator_id),
            "event_type": f"{owner}.{name}", "action": action, "outcome": outcome, "actor": self._actor(conn, owner, event),
            "model_id": self._model(conn, owner, event), "data_subject": self._subject(owner, event),
            "summary": _summary(owner, name, event)})


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


class Jobs:
    """Jobs as of any position: training jobs from request to outcome, and batch inference runs recorded in the ledger."""

    def __init__(self, rows: Rows, lookups: Lookups) -> None:
        self.rows = rows
        self.lookups = lookups

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        owner, name = kind_of(event)
        if owner == "TrainingJob":
            self._training(conn, nid, recorded_at, name, event)
        elif owner == "BatchRun":
            self._batch(conn, nid, recorded_at, name, event)
        elif owner in ("Deployment", "Termination"):
            self._deployment(conn, nid, recorded_at, owner, name, event)
        elif (owner, name) == ("ModelVersion", "BatchRunCompleted") and not getattr(event, "computed", False):
            # evidence once posted by people: shown as a job, marked posted (a computed run has its own rows)
            version_id = str(event.originator_id)
            result = {"metrics": event.metrics, "report_hashes": event.report_hashes, "drift_share": event.drift_share,
                      "drift_detected": event.drift_detected, "fairness_breach": event.fairness_breach,
                      "rows_scored": event.rows}
            self.rows.open("jobs", "job_id", nid, {
                "job_id": event.run_id, "kind": "batch_inference", "state": "succeeded", "version_id": version_id,
                "model_id": self.lookups.model_of_version(conn, version_id), "dataset_id": None,
                "requested_by": self.lookups.username(conn, str(event.completed_for)),
                "requested_by_id": str(event.completed_for), "requested_at": recorded_at, "started_at": None,
                "finished_at": recorded_at, "worker": None, "attempt": 0, "request": dumps({"posted": True}),
                "result": dumps({**result, "computed": False}), "error": None, "created": nid})

    def _batch(self, conn: Any, nid: int, at: str, name: str, event: Any) -> None:
        ident = str(event.originator_id)
        if name == "Requested":
            request = {"version_id": str(event.version_id), "dataset_id": str(event.dataset_id),
                       "dataset_hash": event.dataset_hash, "label_column": event.label_column,
                       "protected_attributes": event.protected_attributes, "thresholds": event.thresholds}
            self.rows.open("jobs", "job_id", nid, {
                "job_id": ident, "kind": "batch_inference", "state": "queued", "model_id": str(event.model_id),
                "version_id": str(event.version_id), "dataset_id": str(event.dataset_id),
                "requested_by": event.requested_by_name, "requested_by_id": str(event.requested_by), "requested_at": at,
                "started_at": None, "finished_at": None, "worker": None, "attempt": 0, "request": dumps(request),
                "result": None, "error": None, "created": nid})
        elif name in ("Started", "Failed", "Cancelled"):
            self._milestone(conn, nid, at, name, event)
        elif name == "Completed":
            result = {"batch_run_id": ident, "rows": event.rows, "report_hashes": event.report_hashes,
                      "dataset_hash": event.dataset_hash, "summary": event.summary, "drift_detected": event.drift_detected,
                      "fairness_breach": event.fairness_breach, "computed": True}
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="succeeded", finished_at=at, result=dumps(result))

    def _deployment(self, conn: Any, nid: int, at: str, owner: str, name: str, event: Any) -> None:
        """Provisioning a deployment, and releasing it, are jobs like any other."""
        ident = str(event.originator_id)
        if name == "Requested":
            if owner == "Deployment":
                kind, request = "deployment", {"version_id": str(event.version_id), "target": event.target,
                                               "size": event.size, "artifact_hash": event.artifact_hash}
            else:
                kind, request = "termination", {"deployment_id": str(event.deployment_id), "target": event.target,
                                                "reason": event.reason}
            self.rows.open("jobs", "job_id", nid, {
                "job_id": ident, "kind": kind, "state": "queued", "model_id": str(event.model_id),
                "version_id": str(event.version_id), "dataset_id": None, "requested_by": event.requested_by_name,
                "requested_by_id": str(event.requested_by), "requested_at": at, "started_at": None,
                "finished_at": None, "worker": None, "attempt": 0, "request": dumps(request), "result": None,
                "error": None, "created": nid})
        elif name in ("Started", "Failed", "Cancelled"):
            self._milestone(conn, nid, at, name, event)
        elif name == "Provisioned":
            result = {"deployment_id": ident, "resources": event.resources, "endpoint": event.endpoint}
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="succeeded", finished_at=at, result=dumps(result))
        elif owner == "Termination" and name == "Completed":
            current = self.rows.current(conn, "jobs", "job_id", ident)
            deployment = json.loads(current["request"])["deployment_id"] if current else None
            result = {"deployment_id": deployment, "released": event.released}
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="succeeded", finished_at=at, result=dumps(result))

    def _milestone(self, conn: Any, nid: int, at: str, name: str, event: Any) -> None:
        """What every kind of job records the same way: an attempt's start, a failure, a cancellation."""
        ident = str(event.originator_id)
        if name == "Started":
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="running", started_at=at, worker=event.worker,
                             attempt=event.attempt)
        elif name == "Failed":
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="failed", finished_at=at,
                             error=dumps({"code": event.code, "message": event.reason}))
        elif name == "Cancelled":
            message = f"cancelled by {event.cancelled_by_name}" + (f": {event.reason}" if event.reason else "")
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="cancelled", finished_at=at,
                             error=dumps({"code": "cancelled", "message": message}))

    def _training(self, conn: Any, nid: int, at: str, name: str, event: Any) -> None:
        ident = str(event.originator_id)
        if name == "Requested":
            request = {"dataset_id": str(event.dataset_id), "dataset_hash": event.dataset_hash, "task": event.task,
                       "target": event.target, "time_budget_seconds": event.time_budget_seconds, "metric": event.metric,
                       "exclude": event.exclude, "protected_attributes": event.protected_attributes,
                       "preprocessing": event.preprocessing, "model_name": event.model_name}
            self.rows.open("jobs", "job_id", nid, {
                "job_id": ident, "kind": "training", "state": "queued",
                "model_id": str(event.model_id) if event.model_id else None, "version_id": None,
                "dataset_id": str(event.dataset_id), "requested_by": event.requested_by_name,
                "requested_by_id": str(event.requested_by), "requested_at": at, "started_at": None, "finished_at": None,
                "worker": None, "attempt": 0, "request": dumps(request), "result": None, "error": None, "created": nid})
        elif name in ("Started", "Failed", "Cancelled"):
            self._milestone(conn, nid, at, name, event)
        elif name == "Completed":
            result = {"version_id": str(event.version_id), "model_id": str(event.model_id),
                      "artifact_hash": event.artifact_hash, "family": event.family, "params": event.params,
                      "metric": event.metric, "cv_mean": event.cv_mean, "cv_std": event.cv_std,
                      "leaderboard": event.leaderboard, "metrics": event.metrics, "candidates": event.candidates,
                      "seconds": event.seconds, "greater_is_better": getattr(event, "greater_is_better", True)}
            self.rows.change(conn, "jobs", "job_id", ident, nid, state="succeeded", finished_at=at,
                             model_id=str(event.model_id), version_id=str(event.version_id), result=dumps(result))

