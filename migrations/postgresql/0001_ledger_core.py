"""Ledger core on PostgreSQL: events, hash chain, Merkle tree nodes, signed checkpoints.

UPDATE, DELETE and TRUNCATE on these tables fail by trigger, and the service role
`govledger_service` is granted SELECT and INSERT only. The events table and composite type are
the ones eventsourcing's PostgreSQL recorder expects.
"""

from yoyo import step

__depends__: set[str] = set()

APPEND_ONLY = ["ledger_events", "ledger_chain", "ledger_tree_nodes", "ledger_checkpoints"]

steps = [
    step(
        "CREATE TABLE ledger_events ("
        " originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,"
        " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))",
        "DROP TABLE ledger_events",
    ),
    step(
        "CREATE UNIQUE INDEX ledger_events_notification_id_idx ON ledger_events (notification_id ASC)",
        "DROP INDEX ledger_events_notification_id_idx",
    ),
    step(
        "CREATE TYPE stored_event_uuid AS"
        " (originator_id uuid, originator_version bigint, topic text, state bytea)",
        "DROP TYPE stored_event_uuid",
    ),
    step(
        "CREATE TABLE ledger_chain ("
        " position bigint PRIMARY KEY CHECK (position >= 0),"
        " notification_id bigint NOT NULL UNIQUE,"
        " leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),"
        " chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32))",
        "DROP TABLE ledger_chain",
    ),
    step(
        "CREATE TABLE ledger_tree_nodes ("
        " level smallint NOT NULL CHECK (level >= 0), idx bigint NOT NULL CHECK (idx >= 0),"
        " hash bytea NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx))",
        "DROP TABLE ledger_tree_nodes",
    ),
    step(
        "CREATE TABLE ledger_checkpoints ("
        " tree_size bigint PRIMARY KEY CHECK (tree_size > 0),"
        " root_hash bytea NOT NULL CHECK (length(root_hash) = 32),"
        " note text NOT NULL, signed_at timestamptz NOT NULL DEFAULT now())",
        "DROP TABLE ledger_checkpoints",
    ),
    step(
        "CREATE FUNCTION govledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'govledger: % is append-only; % refused', TG_TABLE_NAME, TG_OP"
        " USING ERRCODE = 'insufficient_privilege'; END $$",
        "DROP FUNCTION govledger_refuse_change()",
    ),
] + [
    step(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION govledger_refuse_change()",
        f"DROP TRIGGER {table}_append_only ON {table}",
    )
    for table in APPEND_ONLY
] + [
    step(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION govledger_refuse_change()",
        f"DROP TRIGGER {table}_no_truncate ON {table}",
    )
    for table in APPEND_ONLY
] + [
    step(
        # Roles are cluster-wide: another database may have created it, even concurrently.
        "DO $$ BEGIN CREATE ROLE govledger_service NOLOGIN;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ),
    step("DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO govledger_service', current_schema()); END $$"),
    # The recorder serialises inserts with LOCK TABLE … IN EXCLUSIVE MODE, which PostgreSQL lets only
    # holders of UPDATE, DELETE or TRUNCATE take. This owner's function takes the lock for the service
    # role, so the role needs none of those rights.
    step(
        "DO $$ BEGIN EXECUTE format("
        "'CREATE FUNCTION govledger_lock_events() RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
        " SET search_path = pg_catalog, %I AS $f$ BEGIN LOCK TABLE ledger_events IN EXCLUSIVE MODE; END $f$',"
        " current_schema()); END $$",
        "DROP FUNCTION govledger_lock_events()",
    ),
    step("REVOKE ALL ON FUNCTION govledger_lock_events() FROM PUBLIC"),
    step("GRANT EXECUTE ON FUNCTION govledger_lock_events() TO govledger_service"),
    step(
        "GRANT SELECT, INSERT ON " + ", ".join(APPEND_ONLY) + " TO govledger_service",
        "REVOKE ALL ON " + ", ".join(APPEND_ONLY) + " FROM govledger_service",
    ),
    step(
        "GRANT USAGE ON SEQUENCE ledger_events_notification_id_seq TO govledger_service",
        "REVOKE USAGE ON SEQUENCE ledger_events_notification_id_seq FROM govledger_service",
    ),
]
