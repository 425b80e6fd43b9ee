"""Ledger core on PostgreSQL: chained events, Merkle tree nodes, signed checkpoints.

UPDATE, DELETE and TRUNCATE on these tables fail by trigger, and the service role
`govledger_service` is granted SELECT and INSERT only. The events table is the one eventsourcing's
PostgreSQL recorder reads, plus each event's leaf and chain hash; its notification id has no
sequence: the recorder assigns it densely under the insert lock, so ledger position = id − 1.
"""

from yoyo import step

__depends__: set[str] = set()

APPEND_ONLY = ["ledger_events", "ledger_tree_nodes", "ledger_checkpoints"]

steps = [
    step(
        "CREATE TABLE ledger_events ("
        " originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,"
        " notification_id bigint NOT NULL CHECK (notification_id > 0),"
        " leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),"
        " chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32),"
        " PRIMARY KEY (originator_id, originator_version))",
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
    # Appending: lock, read the tip, link each new leaf to the chain and insert, in one statement, so
    # chaining costs no extra round trip. LOCK TABLE … IN EXCLUSIVE MODE serialises writers (so ids
    # follow commit order); PostgreSQL lets only holders of UPDATE, DELETE or TRUNCATE take it, so
    # the function runs as its owner and the service role needs only EXECUTE. Leaf hashes come from
    # the caller; verify recomputes them from the stored bytes, so a wrong one is caught.
    # A SECURITY DEFINER function must not resolve names through the caller's search_path. A
    # `SET search_path` clause would do that, at ~0.1 ms a call (7% of a single-event append), so
    # instead every table, function, operator and type below is qualified by its schema.
    step(
        "DO $$ BEGIN EXECUTE format($fmt$"
        "CREATE FUNCTION %1$I.govledger_append(p_ids uuid[], p_versions bigint[], p_topics text[], p_states bytea[],"
        " p_leaves bytea[]) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $f$"
        " DECLARE last_id pg_catalog.int8; prev pg_catalog.bytea; links pg_catalog.bytea[] := '{}'; i pg_catalog.int4;"
        " BEGIN"
        "  LOCK TABLE %1$I.ledger_events IN EXCLUSIVE MODE;"
        "  SELECT e.notification_id, e.chain_hash INTO last_id, prev FROM %1$I.ledger_events e"
        "   ORDER BY e.notification_id DESC LIMIT 1;"
        "  IF last_id IS NULL THEN last_id := 0; prev := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'); END IF;"
        "  FOR i IN 1 .. coalesce(pg_catalog.cardinality(p_leaves), 0) LOOP"
        "   IF pg_catalog.length(p_leaves[i]) OPERATOR(pg_catalog.<>) 32 THEN"
        "    RAISE EXCEPTION 'leaf hash %%s is not 32 bytes', i; END IF;"
        "   prev := pg_catalog.sha256(prev OPERATOR(pg_catalog.||) p_leaves[i]);"
        "   links := pg_catalog.array_append(links, prev);"
        "  END LOOP;"
        "  INSERT INTO %1$I.ledger_events (originator_id, originator_version, topic, state, notification_id, leaf_hash, chain_hash)"
        "   SELECT u.o, u.v, u.t, u.s, last_id OPERATOR(pg_catalog.+) u.n, u.l, u.c"
        "   FROM ROWS FROM (pg_catalog.unnest(p_ids), pg_catalog.unnest(p_versions), pg_catalog.unnest(p_topics),"
        "    pg_catalog.unnest(p_states), pg_catalog.unnest(p_leaves), pg_catalog.unnest(links))"
        "   WITH ORDINALITY AS u(o, v, t, s, l, c, n);"
        "  RETURN last_id OPERATOR(pg_catalog.+) 1;"
        " END $f$ $fmt$, current_schema()); END $$",
        "DROP FUNCTION govledger_append(uuid[], bigint[], text[], bytea[], bytea[])",
    ),
    step("REVOKE ALL ON FUNCTION govledger_append(uuid[], bigint[], text[], bytea[], bytea[]) FROM PUBLIC"),
    step("GRANT EXECUTE ON FUNCTION govledger_append(uuid[], bigint[], text[], bytea[], bytea[]) TO govledger_service"),
    step(
        "GRANT SELECT, INSERT ON " + ", ".join(APPEND_ONLY) + " TO govledger_service",
        "REVOKE ALL ON " + ", ".join(APPEND_ONLY) + " FROM govledger_service",
    ),
]
