"""Read models, rebuilt from the events at will: the registry of models and versions, with tracking.

Each row is valid for the ledger positions [valid_from, valid_to) (notification ids; valid_to NULL while
current), so a query as of any position is one indexed lookup and never a replay.
"""

from yoyo import step

__depends__ = {"0001_ledger_core"}

steps = [
    step("CREATE TABLE projection_tracking (name TEXT PRIMARY KEY, notification_id INTEGER NOT NULL)",
         "DROP TABLE projection_tracking"),
    step(
        "CREATE TABLE registry_models (model_id TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,"
        " versions INTEGER NOT NULL, valid_from INTEGER NOT NULL, valid_to INTEGER, PRIMARY KEY (model_id, valid_from))",
        "DROP TABLE registry_models",
    ),
    step(
        "CREATE TABLE registry_versions (version_id TEXT NOT NULL, model_id TEXT NOT NULL, number INTEGER NOT NULL,"
        " status TEXT NOT NULL, trained_by TEXT NOT NULL, artifact_hash TEXT NOT NULL,"
        " valid_from INTEGER NOT NULL, valid_to INTEGER, PRIMARY KEY (version_id, valid_from))",
        "DROP TABLE registry_versions",
    ),
    step("CREATE INDEX registry_versions_model ON registry_versions (model_id, valid_from)", "DROP INDEX registry_versions_model"),
    # Each event's own time, so that a query as of a time becomes a query as of a position.
    step("CREATE TABLE projection_event_times (notification_id INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL)",
         "DROP TABLE projection_event_times"),
    step("CREATE INDEX projection_event_times_at ON projection_event_times (recorded_at)", "DROP INDEX projection_event_times_at"),
]
