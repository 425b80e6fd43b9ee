"""Workers report their health here: name, state, position reached, last error, time."""

from yoyo import step

from migrations.read_models import INDEXES

__depends__ = {"0003_read_models"}

steps = [
    step(
        "CREATE TABLE worker_status (name TEXT PRIMARY KEY, state TEXT NOT NULL, position INTEGER,"
        " error TEXT, updated_at TEXT NOT NULL)",
        "DROP TABLE worker_status",
    ),
] + [
    # An interrupted rebuild of older versions could leave the read models without their indexes.
    step(f"CREATE INDEX IF NOT EXISTS {name} ON {spec}") for name, spec in INDEXES
]
