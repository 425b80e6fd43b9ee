"""The store is append-only at the database: triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL), and
PostgreSQL's service role holds no right to insert into, change or delete from ledger tables at all: it appends
through `govledger_append` only, and only the sealer role adds tree nodes and checkpoints."""

from __future__ import annotations

import psycopg
import pytest

from ledger.database import Database
from ledger.sealer import seal_once

from .helpers import TABLES, fill, login_url, query, seal_all


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
        before = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        conn.rollback()
        with pytest.raises(Exception, match="append-only"):  # the trigger's words: the owner holds every privilege
            conn.execute(sql)
        conn.rollback()
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == before > 0


@pytest.mark.parametrize("table", TABLES)
def test_truncate_fails_on_postgresql(pg_url, signer, table):
    db = Database.from_url(pg_url)
    fill(db, 2)
    seal_all(db, signer)
    with db.connect() as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute(f"TRUNCATE {table}")


@pytest.mark.parametrize("table", TABLES)
def test_the_service_role_can_read_but_not_insert_change_or_delete_ledger_rows_even_without_triggers(pg_url, signer, table):
    db = Database.from_url(pg_url)
    fill(db, 3)
    seal_all(db, signer)
    expected = {"ledger_events": 3, "ledger_tree_nodes": 3 + 1, "ledger_checkpoints": 1}[table]  # 3 leaves and one pair
    row = {"ledger_events": "(originator_id, originator_version, topic, state, notification_id, leaf_hash, chain_hash)"
                            " VALUES ('00000000-0000-0000-0000-000000000001', 1, 't', '', 4, %(h)s, %(h)s)",
           "ledger_tree_nodes": "(level, idx, hash) VALUES (0, 3, %(h)s)",
           "ledger_checkpoints": "(tree_size, root_hash, note, signed_at) VALUES (4, %(h)s, 'n', now())"}[table]
    service = Database.from_url(login_url(pg_url, "service"))
    with service.connect() as conn:
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == expected
        conn.rollback()
        for sql in (f"INSERT INTO {table} {row}", f"UPDATE {table} SET {A_COLUMN[table]} = {A_COLUMN[table]}", f"DELETE FROM {table}"):
            # The grant refuses before any trigger runs: PostgreSQL's own message, not the trigger's "append-only".
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
                conn.execute(sql, {"h": bytes(32)})
            conn.rollback()
    assert query(db, f"SELECT COUNT(*) FROM {table}")[0][0] == expected


def test_an_unchained_row_cannot_be_inserted_by_the_service_role_to_stop_the_sealer(pg_url, signer):
    db = Database.from_url(pg_url)
    fill(db, 2)
    service = Database.from_url(login_url(pg_url, "service"))
    with service.connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute("INSERT INTO ledger_events (originator_id, originator_version, topic, state, notification_id, leaf_hash,"
                     " chain_hash) VALUES (gen_random_uuid(), 1, 't', '', 3, %s, %s)", (bytes(32), bytes(32)))
    assert seal_all(db, signer) == 2


def test_only_the_sealer_role_adds_tree_nodes_and_checkpoints(pg_url, signer):
    db = Database.from_url(pg_url)
    fill(db, 2)
    with Database.from_url(login_url(pg_url, "service")).connect() as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied for table ledger_tree_nodes"):
        seal_once(db, conn, signer)
    sealer = Database.from_url(login_url(pg_url, "sealer"))
    with sealer.connect() as conn:
        assert seal_once(sealer, conn, signer).size == 2


def test_the_service_role_can_append_through_the_recorder(pg_url):
    service = Database.from_url(login_url(pg_url, "service"))
    assert len(fill(service, 3)) == 3
    assert query(service, "SELECT COUNT(*) FROM ledger_events")[0][0] == 3


def test_the_append_function_cannot_be_redirected_by_the_callers_search_path(pg_url):
    """A SECURITY DEFINER function resolving names through the caller's search_path would run the caller's objects
    with the owner's rights."""
    db = Database.from_url(pg_url)
    with db.connect() as conn:
        config = conn.execute("SELECT proconfig, prosecdef FROM pg_proc WHERE proname = 'govledger_append'").fetchone()
    assert config == (["search_path=pg_catalog, pg_temp"], True)
