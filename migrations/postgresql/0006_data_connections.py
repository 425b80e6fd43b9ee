"""Data connections' URLs, AES-GCM encrypted, outside the ledger's tables.

The service replaces a row that a registration left when its events were not saved (UPDATE), and destroys a revoked
connection's credentials (DELETE).
"""

from yoyo import step

__depends__ = {"0005_least_privilege"}

steps = [
    step(
        "CREATE TABLE data_connections (connection_id text PRIMARY KEY, ciphertext bytea NOT NULL, created_at text NOT NULL)",
        "DROP TABLE data_connections",
    ),
    step("GRANT SELECT, INSERT, UPDATE, DELETE ON data_connections TO govledger_service",
         "REVOKE ALL ON data_connections FROM govledger_service"),
]
