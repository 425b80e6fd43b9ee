"""Deployments and routing configs as of any ledger position.

A deployment's row follows it from request to termination: its status, the resources its target created, where it
serves and which routing configs send it traffic. A routing config's row holds its current revision: the whole rule
set, the deployment serving each version, and the id of the key that selects it (never the key).
"""

from __future__ import annotations

import json
from typing import Any

from domain.routing import readable_rules

from .registry import kind_of
from .rows import Rows, dumps

_JOB_STATUS = {"Started": "provisioning", "Provisioned": "active", "Failed": "failed", "Cancelled": "cancelled",
               "TerminationRequested": "terminating", "TerminationFailed": "termination_failed",
               "Terminated": "terminated"}


class DeploymentsView:
    """Applies deployment and routing events to their tables (inside the projector's transaction)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def apply(self, conn: Any, nid: int, recorded_at: str, event: Any) -> None:
        owner, name = kind_of(event)
        if owner == "Deployment":
            self._deployment(conn, nid, recorded_at, name, event)
        elif owner == "RoutingConfig":
            self._config(conn, nid, recorded_at, name, event)

    def _deployment(self, conn: Any, nid: int, at: str, name: str, event: Any) -> None:
        ident, rows = str(event.originator_id), self.rows
        if name == "Requested":
            rows.open("deployments", "deployment_id", nid, {
                "deployment_id": ident, "version_id": str(event.version_id), "model_id": str(event.model_id),
                "target": event.target, "size": event.size, "status": "requested", "artifact_hash": event.artifact_hash,
                "requested_by": event.requested_by_name, "requested_at": at, "provisioned_at": None,
                "terminated_at": None, "resources": "[]", "endpoint": None, "routed_by": "[]", "error": None,
                "termination_id": None, "created": nid})
            return
        changes: dict[str, Any] = {}
        if name in _JOB_STATUS:
            changes["status"] = _JOB_STATUS[name]
        if name == "Provisioned":
            changes.update(provisioned_at=at, resources=dumps(event.resources), endpoint=event.endpoint, error=None)
        elif name == "Failed":
            changes["error"] = dumps({"code": event.code, "message": event.reason})
        elif name == "Cancelled":
            changes["error"] = dumps({"code": "cancelled", "message": f"cancelled by {event.cancelled_by_name}"})
        elif name == "TerminationRequested":
            changes.update(termination_id=str(event.termination_id), error=None)
        elif name == "TerminationFailed":
            changes["error"] = dumps({"code": event.code, "message": event.reason})
        elif name == "Terminated":
            changes["terminated_at"] = at
        elif name in ("Routed", "Unrouted"):
            current = rows.current(conn, "deployments", "deployment_id", ident)
            if current is None:
                return
            routed = set(json.loads(current["routed_by"]))
            config = str(event.routing_config_id)
            routed = routed | {config} if name == "Routed" else routed - {config}
            changes["routed_by"] = dumps(sorted(routed))
        if changes:
            rows.change(conn, "deployments", "deployment_id", ident, nid, **changes)

    def _config(self, conn: Any, nid: int, at: str, name: str, event: Any) -> None:
        ident, rows = str(event.originator_id), self.rows
        if name == "Created":
            rows.open("routing_configs", "routing_config_id", nid, {
                "routing_config_id": ident, "name": event.name, "revision": 0, "rule_set": None, "key_id": None,
                "created_by": event.created_by_name, "created_at": at, "configured_by": None, "configured_at": None,
                "created": nid})
        elif name == "Configured":
            rule_set = {"rules": readable_rules(event.rules),
                        "default_version_id": event.default_version_id,
                        "shadow_version_ids": event.shadow_version_ids, "deployments": event.deployments}
            rows.change(conn, "routing_configs", "routing_config_id", ident, nid, name=event.name,
                        revision=event.revision, rule_set=dumps(rule_set), configured_by=event.configured_by_name,
                        configured_at=at)
        elif name == "KeyIssued":
            rows.change(conn, "routing_configs", "routing_config_id", ident, nid, key_id=event.key_id)
        elif name == "KeyRevoked":
            current = rows.current(conn, "routing_configs", "routing_config_id", ident)
            if current is not None and current["key_id"] == event.key_id:
                rows.change(conn, "routing_configs", "routing_config_id", ident, nid, key_id=None)
