"""Data connections' URLs, AES-GCM encrypted, outside the ledger's tables: rows are replaced and deleted here."""

from yoyo import step

__depends__ = {"0004_worker_status"}

steps = [
    step(
        "CREATE TABLE data_connections (connection_id TEXT PRIMARY KEY, ciphertext BLOB NOT NULL, created_at TEXT NOT NULL)",
        "DROP TABLE data_connections",
    ),
]
