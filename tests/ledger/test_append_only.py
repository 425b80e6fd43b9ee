"""The store is append-only at the database: triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL), and
PostgreSQL's service role holds no right to change event tables at all."""

from __future__ import annotations

import psycopg
import pytest

from ledger.database import Database

from .helpers import TABLES, fill, seal_all


@pytest.fixture
def sealed(db, signer):
    fill(db, 5)
    seal_all(db, signer)
    return db


A_COLUMN = {"ledger_events": "topic", "ledger_tree_nodes": "idx", "ledger_checkpoints": "note"}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_update_and_delete_on_ledger_tables_fail(sealed, table, statement):
    sql = statement.format(t=table, c=A_COLUMN[table])
    with sealed.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            conn.execute(sql)
        conn.rollback()
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0


@pytest.mark.parametrize("table", TABLES)
def test_truncate_fails_on_postgresql(pg_url, signer, table):
    db = Database.from_url(pg_url)
    fill(db, 2)
    seal_all(db, signer)
    with db.connect() as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(f"TRUNCATE {table}")


@pytest.mark.parametrize("table", TABLES)
def test_the_service_role_can_read_and_insert_but_not_change_ledger_tables(pg_url, table):
    db = Database.from_url(pg_url)
    fill(db, 1)
    with db.connect() as conn:
        conn.execute("SET session_replication_role = replica")  # even with the triggers out of the way
        conn.execute("SET ROLE govledger_service")
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() is not None
        for sql in (f"UPDATE {table} SET {A_COLUMN[table]} = {A_COLUMN[table]}", f"DELETE FROM {table}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
            conn.execute("SET ROLE govledger_service")


def test_the_service_role_can_append_through_the_recorder(pg_url):
    db = Database.from_url(pg_url)
    with db.connect() as conn:
        # Roles are cluster-wide and other test databases may race to create this one.
        conn.execute("DO $$ BEGIN CREATE ROLE gl_app_login LOGIN IN ROLE govledger_service;"
                     " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        conn.commit()
    service = Database.from_url(pg_url.replace("postgresql://postgres@", "postgresql://gl_app_login@"))
    assert len(fill(service, 3)) == 3
