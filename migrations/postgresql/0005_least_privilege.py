"""Least privilege that runs: the service appends only through `govledger_append`, the sealer alone adds tree nodes
and checkpoints, and workers report their health in `worker_status`.

`govledger_service` (API processes and workers) keeps SELECT on the ledger tables and EXECUTE on the append
function, and loses INSERT on them: a row inserted directly would be unchained. `govledger_sealer` is the
service plus INSERT on the tree and the checkpoints; give it to the login role of `govledger workers` and
`govledger seal` only. The read models lose TRUNCATE: a rebuild deletes inside one transaction.
"""

from yoyo import step

from migrations.read_models import INDEXES

__depends__ = {"0004_read_models"}

LEDGER = "ledger_events, ledger_tree_nodes, ledger_checkpoints"
READ_MODELS = "projection_tracking, registry_models, registry_versions, registry_datasets, registry_users, audit_trail, jobs"

steps = [
    step(f"REVOKE INSERT ON {LEDGER} FROM govledger_service", f"GRANT INSERT ON {LEDGER} TO govledger_service"),
    step(f"REVOKE TRUNCATE ON {READ_MODELS} FROM govledger_service", f"GRANT TRUNCATE ON {READ_MODELS} TO govledger_service"),
    step(
        # Roles are cluster-wide: another database may have created it, even concurrently.
        "DO $$ BEGIN CREATE ROLE govledger_sealer NOLOGIN IN ROLE govledger_service;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ),
    # Every name in the function is already qualified; pinning its search_path too (pg_temp last) means no object
    # the caller creates can ever be resolved in it. The cost was not measurable beside a commit.
    step("ALTER FUNCTION govledger_append(uuid[], bigint[], text[], bytea[], bytea[]) SET search_path = pg_catalog, pg_temp",
         "ALTER FUNCTION govledger_append(uuid[], bigint[], text[], bytea[], bytea[]) RESET search_path"),
    step("GRANT INSERT ON ledger_tree_nodes, ledger_checkpoints TO govledger_sealer",
         "REVOKE ALL ON ledger_tree_nodes, ledger_checkpoints FROM govledger_sealer"),
    step(
        "CREATE TABLE worker_status (name TEXT PRIMARY KEY, state TEXT NOT NULL, position bigint,"
        " error TEXT, updated_at TEXT NOT NULL)",
        "DROP TABLE worker_status",
    ),
    step("GRANT SELECT, INSERT, UPDATE ON worker_status TO govledger_service", "REVOKE ALL ON worker_status FROM govledger_service"),
    # `govledger` checks the schema is current before it runs: the service reads yoyo's record of what was applied.
    step("GRANT SELECT ON _yoyo_migration, _yoyo_version TO govledger_service",
         "REVOKE ALL ON _yoyo_migration, _yoyo_version FROM govledger_service"),
] + [
    # An interrupted rebuild of older versions could leave the read models without their indexes.
    step(f"CREATE INDEX IF NOT EXISTS {name} ON {spec}") for name, spec in INDEXES
]
