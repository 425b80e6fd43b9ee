"""The read models' tables, shared by the SQLite and PostgreSQL migrations (only the integer type differs).

Read models are disposable: this migration drops the first registry tables and resets tracking, and the
projector rebuilds everything from the events. Versioned rows are valid for the notification ids
[valid_from, valid_to) (valid_to NULL while current), so a query as of any position is an indexed lookup.
"""

from __future__ import annotations

from typing import Any

from yoyo import step

OLD = ("registry_models", "registry_versions", "projection_event_times")
TABLES = ("registry_models", "registry_versions", "registry_datasets", "registry_users", "audit_trail", "jobs",
          "deployments", "routing_configs", "predictions")


def _tables(big: str) -> list[tuple[str, str]]:
    versioned = f"valid_from {big} NOT NULL, valid_to {big}"
    return [
        ("registry_models", f"model_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, owner TEXT NOT NULL,"
                            f" registered_by TEXT NOT NULL, versions INTEGER NOT NULL, monitored INTEGER NOT NULL,"
                            f" risk_tier TEXT NOT NULL, applicable TEXT NOT NULL, mandatory TEXT NOT NULL, sections TEXT NOT NULL,"
                            f" {versioned}, PRIMARY KEY (model_id, valid_from)"),
        ("registry_versions", f"version_id TEXT NOT NULL, model_id TEXT NOT NULL, number INTEGER NOT NULL, status TEXT NOT NULL,"
                              f" estimator TEXT NOT NULL, target TEXT NOT NULL, trained_by TEXT NOT NULL,"
                              f" artifact_hash TEXT NOT NULL, dataset_ids TEXT NOT NULL, metrics TEXT NOT NULL,"
                              f" deployment_target TEXT, created_at TEXT NOT NULL, last_run TEXT, decision TEXT, deployed_at TEXT,"
                              f" job_id TEXT, task TEXT, deployments TEXT NOT NULL DEFAULT '[]',"
                              f" {versioned}, PRIMARY KEY (version_id, valid_from)"),
        ("registry_datasets", f"dataset_id TEXT PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL,"
                              f" row_count {big} NOT NULL, content_hash TEXT NOT NULL, registered_by TEXT NOT NULL,"
                              f" source_kind TEXT, snapshot INTEGER NOT NULL, schema TEXT NOT NULL, profile TEXT,"
                              f" valid_from {big} NOT NULL"),
        ("registry_users", f"user_id TEXT NOT NULL, username TEXT NOT NULL, role TEXT NOT NULL, active INTEGER NOT NULL,"
                           f" {versioned}, PRIMARY KEY (user_id, valid_from)"),
        ("audit_trail", f"notification_id {big} PRIMARY KEY, recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
                        f" event_type TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, actor TEXT,"
                        f" model_id TEXT, data_subject TEXT, summary TEXT NOT NULL"),
        ("jobs", f"job_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, model_id TEXT, version_id TEXT,"
                 f" dataset_id TEXT, requested_by TEXT, requested_by_id TEXT, requested_at TEXT NOT NULL, started_at TEXT,"
                 f" finished_at TEXT, worker TEXT, attempt INTEGER NOT NULL, request TEXT NOT NULL, result TEXT, error TEXT,"
                 f" created {big} NOT NULL, {versioned}, PRIMARY KEY (job_id, valid_from)"),
        ("deployments", f"deployment_id TEXT NOT NULL, version_id TEXT NOT NULL, model_id TEXT NOT NULL,"
                        f" target TEXT NOT NULL, size TEXT NOT NULL, status TEXT NOT NULL, artifact_hash TEXT NOT NULL,"
                        f" requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, provisioned_at TEXT, terminated_at TEXT,"
                        f" resources TEXT NOT NULL, endpoint TEXT, routed_by TEXT NOT NULL, error TEXT, termination_id TEXT,"
                        f" created {big} NOT NULL, {versioned}, PRIMARY KEY (deployment_id, valid_from)"),
        ("routing_configs", f"routing_config_id TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,"
                            f" rule_set TEXT, key_id TEXT, created_by TEXT NOT NULL, created_at TEXT NOT NULL,"
                            f" configured_by TEXT, configured_at TEXT, created {big} NOT NULL,"
                            f" {versioned}, PRIMARY KEY (routing_config_id, valid_from)"),
        ("predictions", f"notification_id {big} PRIMARY KEY, prediction_id TEXT NOT NULL, request_id TEXT NOT NULL,"
                        f" recorded_at TEXT NOT NULL, routing_config_id TEXT NOT NULL, revision INTEGER NOT NULL,"
                        f" key_id TEXT NOT NULL, rule TEXT, branch INTEGER, bucket DOUBLE PRECISION, version_id TEXT NOT NULL,"
                        f" model_id TEXT NOT NULL, deployment_id TEXT NOT NULL, shadow INTEGER NOT NULL, subject_id TEXT,"
                        f" prediction TEXT NOT NULL, score DOUBLE PRECISION, explanation TEXT NOT NULL,"
                        f" latency_ms DOUBLE PRECISION NOT NULL"),
    ]


INDEXES = [
    ("registry_versions_model", "registry_versions (model_id, number, valid_from)"),
    ("audit_trail_at", "audit_trail (recorded_at)"),
    ("audit_trail_by", "audit_trail (recorded_by, notification_id)"),
    ("registry_models_name", "registry_models (name, model_id, valid_from)"),
    ("audit_trail_model", "audit_trail (model_id, notification_id)"),
    ("audit_trail_actor", "audit_trail (actor, notification_id)"),
    ("audit_trail_action", "audit_trail (action, notification_id)"),
    ("audit_trail_subject", "audit_trail (data_subject, notification_id)"),
    ("jobs_model", "jobs (model_id, created, job_id)"),
    ("jobs_created", "jobs (created, job_id)"),
    ("deployments_created", "deployments (created, deployment_id)"),
    ("deployments_version", "deployments (version_id, created)"),
    ("routing_configs_created", "routing_configs (created, routing_config_id)"),
    ("predictions_at", "predictions (recorded_at, notification_id)"),
    ("predictions_request", "predictions (request_id, notification_id)"),
    ("predictions_subject", "predictions (subject_id, notification_id)"),
    ("predictions_version", "predictions (version_id, notification_id)"),
]


def rebuilt(big: str, *, grant_to: str | None = None) -> list[Any]:
    """Steps that replace every read model with the current definitions; the projector rebuilds them from the events.

    The grant leaves out TRUNCATE: a rebuild deletes inside one transaction."""
    out = [step(f"DROP TABLE IF EXISTS {name}") for name in TABLES]
    out.append(step("DELETE FROM projection_tracking"))
    out += [step(f"CREATE TABLE {name} ({columns})") for name, columns in _tables(big)]
    out += [step(f"CREATE INDEX {name} ON {spec}") for name, spec in INDEXES]
    if grant_to is not None:
        out.append(step(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {grant_to}"))
    return out


def steps(big: str, *, grant_to: str | None = None) -> list[Any]:
    out = [step(f"DROP TABLE IF EXISTS {name}") for name in OLD]
    out.append(step("DELETE FROM projection_tracking"))
    out += [step(f"CREATE TABLE {name} ({columns})", f"DROP TABLE {name}") for name, columns in _tables(big)]
    out += [step(f"CREATE INDEX {name} ON {spec}", f"DROP INDEX {name}") for name, spec in INDEXES]
    if grant_to is not None:
        out.append(step(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {', '.join(TABLES)} TO {grant_to}",
                        f"REVOKE ALL ON {', '.join(TABLES)} FROM {grant_to}"))
    return out
