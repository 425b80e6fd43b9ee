"""The registry read model: models, versions (status and lineage), datasets and users, as of any ledger position."""

from __future__ import annotations

from typing import Any

from .rows import Rows, dumps

#: event class name on ModelVersion → the status it leads to
VERSION_STATUS = {"Exported": "staged", "BatchRunCompleted": "validated", "Approved": "approved", "Rejected": "rejected",
                  "Deployed": "deployed", "Terminated": "terminated", "Retired": "retired"}


def kind_of(event: Any) -> tuple[str, str]:
    """("ModelVersion", "Approved") for a ModelVersion.Approved event."""
    owner, _, name = type(event).__qualname__.rpartition(".")
    return owner.split(".")[-1], name.lstrip("_")


class Registry:
    """Applies events to the registry tables (inside the projector's transaction)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def apply(self, conn: Any, nid: int, event: Any) -> None:
        owner, name = kind_of(event)
        ident = str(event.originator_id)
        rows = self.rows
        if owner == "Model":
            if name == "Registered":
                rows.open(conn, "registry_models", nid, {
                    "model_id": ident, "name": event.name, "description": event.description, "owner": str(event.owner),
                    "registered_by": event.registered_by, "versions": 0, "monitored": 0, "risk_tier": "medium"})
            elif name == "VersionAdded":
                rows.change(conn, "registry_models", "model_id", ident, nid, versions=event.number)
            elif name == "ComplianceConfigured":
                rows.change(conn, "registry_models", "model_id", ident, nid, risk_tier=event.risk_tier)
            elif name == "MonitoringRegistered":
                rows.change(conn, "registry_models", "model_id", ident, nid, monitored=1)
        elif owner == "ModelVersion":
            if name == "Imported":
                rows.open(conn, "registry_versions", nid, {
                    "version_id": ident, "model_id": str(event.model_id), "number": event.number, "status": "trained",
                    "estimator": event.estimator, "target": event.target, "trained_by": event.trained_by_name,
                    "artifact_hash": event.artifact_hash, "dataset_ids": dumps([str(d) for d in event.dataset_ids]),
                    "metrics": dumps(event.metrics), "deployment_target": None})
            elif name in VERSION_STATUS:
                changes = {"status": VERSION_STATUS[name]}
                if name == "Deployed":
                    changes["deployment_target"] = event.target
                rows.change(conn, "registry_versions", "version_id", ident, nid, **changes)
        elif owner == "Dataset" and name == "Registered":
            rows.insert(conn, "registry_datasets", {
                "dataset_id": ident, "name": event.name, "source": event.source, "row_count": event.row_count,
                "content_hash": event.content_hash, "registered_by": event.registered_by, "valid_from": nid})
        elif owner == "User":
            if name == "Created":
                rows.open(conn, "registry_users", nid, {"user_id": ident, "username": event.username,
                                                        "role": str(event.role), "active": 1})
            elif name == "RoleChanged":
                rows.change(conn, "registry_users", "user_id", ident, nid, role=str(event.role))
            elif name == "Deactivated":
                rows.change(conn, "registry_users", "user_id", ident, nid, active=0)


class Lookups:
    """Names the audit trail needs (a version's model, a user's name), from the registry, cached: they never change."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self._models: dict[str, str] = {}
        self._users: dict[str, str] = {}

    def _find(self, conn: Any, cache: dict[str, str], table: str, key: str, ident: str, column: str) -> str | None:
        if ident not in cache:
            row = self.rows.current(conn, table, key, ident)
            if row is None:
                return None
            cache[ident] = row[column]
        return cache[ident]

    def model_of_version(self, conn: Any, version_id: str) -> str | None:
        return self._find(conn, self._models, "registry_versions", "version_id", version_id, "model_id")

    def username(self, conn: Any, user_id: str) -> str | None:
        return self._find(conn, self._users, "registry_users", "user_id", user_id, "username")
