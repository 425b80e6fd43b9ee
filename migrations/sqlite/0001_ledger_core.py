"""Ledger core on SQLite: chained events, Merkle tree nodes, signed checkpoints; append-only by trigger.

The events table is the one eventsourcing's SQLite recorder reads, plus each event's leaf and chain
hash. Its rowid is the notification id, assigned densely by the recorder: ledger position = rowid − 1.
"""

from yoyo import step

__depends__: set[str] = set()

APPEND_ONLY = ["ledger_events", "ledger_tree_nodes", "ledger_checkpoints"]

steps = [
    step(
        "CREATE TABLE ledger_events ("
        " originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB,"
        " leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),"
        " chain_hash BLOB NOT NULL CHECK (length(chain_hash) = 32),"
        " PRIMARY KEY (originator_id, originator_version))",
        "DROP TABLE ledger_events",
    ),
    step(
        "CREATE TABLE ledger_tree_nodes ("
        " level INTEGER NOT NULL CHECK (level >= 0), idx INTEGER NOT NULL CHECK (idx >= 0),"
        " hash BLOB NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx)) WITHOUT ROWID",
        "DROP TABLE ledger_tree_nodes",
    ),
    step(
        "CREATE TABLE ledger_checkpoints ("
        " tree_size INTEGER PRIMARY KEY CHECK (tree_size > 0),"
        " root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),"
        " note TEXT NOT NULL, signed_at TEXT NOT NULL)",
        "DROP TABLE ledger_checkpoints",
    ),
] + [
    step(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, 'govledger: {table} is append-only; {op} refused'); END",
        f"DROP TRIGGER {table}_no_{op.lower()}",
    )
    for table in APPEND_ONLY
    for op in ("UPDATE", "DELETE")
]
