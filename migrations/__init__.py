"""Schema migrations, one directory per database (yoyo-migrations). Applied by `govledger migrate`."""

from pathlib import Path

SQLITE_DIR = Path(__file__).parent / "sqlite"
POSTGRESQL_DIR = Path(__file__).parent / "postgresql"
