"""Keys of data subjects, outside the event tables: rows here are deleted to erase a subject (crypto-shredding)."""

from yoyo import step

__depends__ = {"0001_ledger_core"}

steps = [
    step(
        "CREATE TABLE subject_keys (subject text PRIMARY KEY, key bytea NOT NULL CHECK (length(key) = 32),"
        " created_at text NOT NULL)",
        "DROP TABLE subject_keys",
    ),
    step("GRANT SELECT, INSERT, DELETE ON subject_keys TO govledger_service", "REVOKE ALL ON subject_keys FROM govledger_service"),
]
