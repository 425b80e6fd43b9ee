"""The registry read model: models, versions (status and lineage), datasets and users, as of any ledger position.

Models and versions also carry what the compliance score is computed from (configuration, written sections, the
latest batch run, the review and the deployment), so a score as of any position is computed at query time by the
domain's own formula, never stored twice.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from domain.compliance import ComplianceConfig

from .rows import Rows, dumps

_DEFAULT = ComplianceConfig.default()

#: event class name on ModelVersion → the status it leads to
VERSION_STATUS = {"Exported": "staged", "BatchRunCompleted": "validated", "Approved": "approved", "Rejected": "rejected",
                  "Deployed": "deployed", "Terminated": "terminated", "Retired": "retired"}


@functools.cache
def _kind(cls: type) -> tuple[str, str]:
    owner, _, name = cls.__qualname__.rpartition(".")
    return owner.split(".")[-1], name.lstrip("_")


def kind_of(event: Any) -> tuple[str, str]:
    """("ModelVersion", "Approved") for a ModelVersion.Approved event."""
    return _kind(type(event))


class Registry:
    """Applies events to the registry tables (inside the projector's transaction)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        owner, name = kind_of(event)
        ident = str(event.originator_id)
        rows = self.rows
        if owner == "Model":
            if name == "Registered":
                rows.open("registry_models", "model_id", nid, {
                    "model_id": ident, "name": event.name, "description": event.description, "owner": str(event.owner),
                    "registered_by": event.registered_by, "versions": 0, "monitored": 0, "risk_tier": _DEFAULT.risk_tier.value,
                    "applicable": dumps(sorted(_DEFAULT.applicable)), "mandatory": dumps(sorted(_DEFAULT.mandatory)),
                    "sections": "{}"})
            elif name == "VersionAdded":
                rows.change(conn, "registry_models", "model_id", ident, nid, versions=event.number)
            elif name == "ComplianceConfigured":
                rows.change(conn, "registry_models", "model_id", ident, nid, risk_tier=event.risk_tier,
                            applicable=dumps(sorted(event.applicable)), mandatory=dumps(sorted(event.mandatory)))
            elif name == "ComplianceSectionEdited":
                current = rows.current(conn, "registry_models", "model_id", ident)
                if current is not None:
                    sections = json.loads(current["sections"])
                    sections[event.section] = {"content": event.after, "edited_by": event.edited_by, "edited_at": recorded_at}
                    rows.change(conn, "registry_models", "model_id", ident, nid, sections=dumps(sections))
            elif name == "MonitoringRegistered":
                rows.change(conn, "registry_models", "model_id", ident, nid, monitored=1)
        elif owner == "ModelVersion":
            if name in ("Imported", "Trained"):
                rows.open("registry_versions", "version_id", nid, {
                    "version_id": ident, "model_id": str(event.model_id), "number": event.number, "status": "trained",
                    "estimator": event.estimator, "target": event.target, "trained_by": event.trained_by_name,
                    "artifact_hash": event.artifact_hash, "dataset_ids": dumps([str(d) for d in event.dataset_ids]),
                    "metrics": dumps(event.metrics), "deployment_target": None, "created_at": recorded_at, "last_run": None,
                    "decision": None, "deployed_at": None,
                    "job_id": str(event.job_id) if getattr(event, "job_id", None) else None,
                    "task": getattr(event, "task", None), "deployments": "[]"})
            elif name == "DeploymentEnded":  # one of several deployments: the version still serves, or will
                rows.change(conn, "registry_versions", "version_id", ident, nid, **self._serving(conn, ident, name, event))
            elif name in VERSION_STATUS:
                changes = {"status": VERSION_STATUS[name]}
                if name in ("Deployed", "Terminated"):
                    changes.update(self._serving(conn, ident, name, event))
                if name == "Deployed":
                    changes.update(deployment_target=event.target, deployed_at=recorded_at)
                elif name == "BatchRunCompleted" and getattr(event, "computed", False):  # posted evidence counts for nothing
                    changes["last_run"] = dumps({
                        "run_id": event.run_id, "rows": event.rows, "metrics": event.metrics, "report_hashes": event.report_hashes,
                        "drift_share": event.drift_share, "drift_detected": event.drift_detected,
                        "fairness_breach": event.fairness_breach, "at": recorded_at})
                elif name in ("Approved", "Rejected"):
                    changes["decision"] = dumps({"findings": event.findings, "at": recorded_at})
                rows.change(conn, "registry_versions", "version_id", ident, nid, **changes)
        elif owner == "Dataset" and name == "Registered":
            rows.insert("registry_datasets", {
                "dataset_id": ident, "name": event.name, "source": event.source, "row_count": event.row_count,
                "content_hash": event.content_hash, "registered_by": event.registered_by,
                "source_kind": getattr(event, "source_kind", None), "snapshot": int(bool(getattr(event, "snapshot", False))),
                "schema": dumps(event.schema), "profile": dumps(event.profile) if getattr(event, "profile", None) else None,
                "valid_from": nid})
        elif owner == "User":
            if name == "Created":
                rows.open("registry_users", "user_id", nid, {"user_id": ident, "username": event.username,
                                                        "role": str(event.role), "active": 1})
            elif name == "RoleChanged":
                rows.change(conn, "registry_users", "user_id", ident, nid, role=str(event.role))
            elif name == "Deactivated":
                rows.change(conn, "registry_users", "user_id", ident, nid, active=0)


    def _serving(self, conn: Any, ident: str, name: str, event: Any) -> dict[str, Any]:
        """The deployments serving a version, after one more serves it or one ended."""
        current = self.rows.current(conn, "registry_versions", "version_id", ident)
        serving = json.loads(current["deployments"]) if current else []
        deployment = str(getattr(event, "deployment_id", None))  # "None" for a deployment recorded before jobs
        serving = serving + [deployment] if name == "Deployed" else [d for d in serving if d != deployment]
        return {"deployments": dumps(serving)}


class Lookups:
    """Names the audit trail needs (a version's model, a user's name), from the registry's current rows."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def model_of_version(self, conn: Any, version_id: str) -> str | None:
        row = self.rows.current(conn, "registry_versions", "version_id", version_id)
        return None if row is None else str(row["model_id"])

    def model_of_job(self, conn: Any, job_id: str) -> str | None:
        row = self.rows.current(conn, "jobs", "job_id", job_id)
        return None if row is None or row["model_id"] is None else str(row["model_id"])

    def model_of_deployment(self, conn: Any, owner: str, ident: str) -> str | None:
        """The model of a deployment, or of a termination job (from the jobs read model)."""
        if owner == "Termination":
            return self.model_of_job(conn, ident)
        row = self.rows.current(conn, "deployments", "deployment_id", ident)
        return None if row is None else str(row["model_id"])

    def username(self, conn: Any, user_id: str) -> str | None:
        row = self.rows.current(conn, "registry_users", "user_id", user_id)
        return None if row is None else str(row["username"])
