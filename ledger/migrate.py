"""Apply the schema migrations of migrations/ with yoyo, and refuse a store written by a newer govledger."""

from __future__ import annotations

from dataclasses import dataclass

from yoyo import get_backend, read_migrations
from yoyo.exceptions import LockTimeout

from migrations import POSTGRESQL_DIR, SQLITE_DIR

from .database import Database
from .errors import DatabaseUnavailable, SchemaError


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]
    unknown: list[str]  # applied in the database but not known to this version: a newer schema


def _backend(db: Database):  # type: ignore[no-untyped-def]
    if db.is_sqlite and db.path is not None and not db.path.parent.exists():
        raise DatabaseUnavailable(f"the directory of {db.describe()} does not exist; run `govledger init`")
    try:
        backend = get_backend(db.yoyo_url())
        backend.list_tables()  # a file that is no database fails here, not after yoyo's lock has retried for a minute
        return backend
    except Exception as e:  # the drivers raise their own types; name the cause, never the password
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise DatabaseUnavailable(f"cannot connect to {db.describe()}: {reason}") from None


def _migrations(db: Database):  # type: ignore[no-untyped-def]
    return read_migrations(str(SQLITE_DIR if db.is_sqlite else POSTGRESQL_DIR))


def status(db: Database) -> MigrationStatus:
    backend = _backend(db)
    try:
        migrations = _migrations(db)
        # Reading needs no lock, which the service's role could not take: it may only read what was applied.
        applied_hashes = set(backend.get_applied_migration_hashes())
        known = {m.hash: m.id for m in migrations}
        return MigrationStatus(
            applied=[m.id for m in migrations if m.hash in applied_hashes],
            pending=[m.id for m in migrations if m.hash not in applied_hashes],
            unknown=sorted(h for h in applied_hashes if h not in known),
        )
    finally:
        backend.connection.close()


def migrate(db: Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the ids applied (empty when up to date)."""
    backend = _backend(db)
    try:
        migrations = _migrations(db)
        try:
            with backend.lock(timeout=60):
                applied = set(backend.get_applied_migration_hashes())
                unknown = applied - {m.hash for m in migrations}
                if unknown:
                    raise SchemaError(
                        f"{db.describe()} holds {len(unknown)} migration(s) this govledger does not know: "
                        "it was written by a newer version; upgrade govledger instead of migrating"
                    )
                pending = backend.to_apply(migrations)
                backend.apply_migrations(pending)
        except LockTimeout:
            raise SchemaError("another `govledger migrate` holds the migration lock; try again when it ends") from None
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def require_current(db: Database) -> None:
    """Refuse to run against a schema that is missing, behind, or newer than this version."""
    st = status(db)
    if st.unknown:
        raise SchemaError(f"{db.describe()} was written by a newer govledger schema; upgrade govledger")
    if st.pending:
        raise SchemaError(f"{db.describe()} needs migrations {', '.join(st.pending)}; run `govledger migrate`")
