"""The audit trail (one row per event, refusals included) and the jobs read model (batch inference runs)."""

from __future__ import annotations

import functools
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
    **{("ModelVersion", e): Action.DEPLOY for e in ("Deployed", "Terminated", "Retired")},
    ("Dataset", "Registered"): Action.TRAIN,
}
#: aggregates whose every event exercises one action
OWNER_ACTIONS = {owner: Action.MANAGE_USERS for owner in ("User", "ApiKey", "Erasure", "Installation")}
ACTION_NAMES = {a.value: a.name.lower() for a in Action}

#: payload fields naming who acted, by name or by user id, in the order they are looked for. Not `username`: on
#: User.Created it names the new user, not the administrator who created them (`created_by`).
ACTOR_FIELDS = ("registered_by", "trained_by_name", "configured_by", "edited_by", "created_by", "changed_by",
                "issued_by", "revoked_by", "deactivated_by", "erased_by", "added_by", "exported_by", "completed_for",
                "approved_by", "rejected_by", "deployed_by", "terminated_by", "retired_by", "admin_id", "caller")


#: how each kind of event reads in the audit trail
SUMMARIES: dict[tuple[str, str], Callable[[Any], str]] = {
    ("Model", "Registered"): lambda e: f"model {e.name} registered",
    ("Model", "VersionAdded"): lambda e: f"version {e.number} added",
    ("Model", "ComplianceConfigured"): lambda e: f"{e.risk_tier} risk; mandatory: {', '.join(e.mandatory) or 'none'}",
    ("Model", "ComplianceSectionEdited"): lambda e: f"section {e.section} {'edited' if e.before else 'written'}",
    ("ModelVersion", "Imported"): lambda e: f"version {e.number} imported ({e.estimator}, sha256 {e.artifact_hash[:12]}…)",
    ("ModelVersion", "BatchRunCompleted"): lambda e: f"batch run {e.run_id}: {e.rows} rows, drift share {e.drift_share:.0%}",
    ("ModelVersion", "Approved"): lambda e: f"approved: {e.findings}",
    ("ModelVersion", "Rejected"): lambda e: f"rejected: {e.findings}",
    ("ModelVersion", "Deployed"): lambda e: f"deployed to {e.target}",
    ("ModelVersion", "Terminated"): lambda e: f"terminated: {e.reason}",
    ("ModelVersion", "Retired"): lambda e: f"retired: {e.reason}",
    ("Dataset", "Registered"): lambda e: f"dataset {e.name} ({e.row_count} rows, sha256 {e.content_hash[:12]}…)",
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
    """Batch inference runs as jobs: completed runs recorded in the ledger, with their results."""

    def __init__(self, rows: Rows, lookups: Lookups) -> None:
        self.rows = rows
        self.lookups = lookups

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        if kind_of(event) != ("ModelVersion", "BatchRunCompleted"):
            return
        version_id = str(event.originator_id)
        result = {"metrics": event.metrics, "report_hashes": event.report_hashes, "drift_share": event.drift_share,
                  "drift_detected": event.drift_detected, "fairness_breach": event.fairness_breach}
        self.rows.insert("jobs", {
            "job_id": event.run_id, "kind": "batch_inference", "status": "completed", "version_id": version_id,
            "model_id": self.lookups.model_of_version(conn, version_id) or "", "rows_scored": event.rows,
            "requested_by": self.lookups.username(conn, str(event.completed_for)), "result": dumps(result),
            "recorded_at": recorded_at, "valid_from": nid})
