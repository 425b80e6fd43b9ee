"""An attacker who bypasses the append-only triggers changes the store; `verify` names what and where.

The store: 30 events sealed in a first checkpoint, 20 more in a second, 5 not yet sealed.
"""

from __future__ import annotations

import re

import pytest

from ledger.errors import IntegrityFailure
from ledger.verify import verify_store
from ledger_tools import Checkpoint, generate_signer, sign_checkpoint
from ledger_tools.chain import chain_hash, event_leaf_hash

from .helpers import as_attacker, fill, query, seal_all


@pytest.fixture
def store(db, signer):
    fill(db, 30)
    seal_all(db, signer)
    fill(db, 20, start=30)
    seal_all(db, signer)
    fill(db, 5, start=50)
    return db


def verify(db, signer):
    with db.connect() as conn:
        return verify_store(db, conn, signer.verifier)


def nid_at(db, position: int) -> int:
    return query(db, "SELECT notification_id FROM ledger_chain WHERE position = ?", (position,))[0][0]


def expect_failure(db, signer, position: int, pattern: str) -> IntegrityFailure:
    with pytest.raises(IntegrityFailure) as info:
        verify(db, signer)
    assert info.value.position == position, info.value.message
    assert re.search(pattern, info.value.message), info.value.message
    return info.value


def test_an_untouched_store_verifies(store, signer):
    report = verify(store, signer)
    assert (report.events, report.checkpoints, report.sealed) == (55, 2, 50)


def test_a_changed_payload_byte_is_named_with_its_aggregate_and_version(store, signer):
    nid = nid_at(store, 12)
    state = bytes(query(store, "SELECT state FROM ledger_events WHERE rowid = ?" if store.is_sqlite
                        else "SELECT state FROM ledger_events WHERE notification_id = ?", (nid,))[0][0])
    changed = state.replace(b"112", b"911", 1)
    assert changed != state
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = ?", (changed, nid))
    failure = expect_failure(store, signer, 12, "altered after it was chained")
    assert failure.version == 1 and failure.aggregate is not None


def test_a_deleted_event_is_named_by_its_position(store, signer):
    as_attacker(store, "DELETE FROM ledger_events WHERE rowid = ?", (nid_at(store, 7),))
    expect_failure(store, signer, 7, "removed or reordered")


def test_a_deleted_unsealed_event_is_found_by_its_orphan_chain_entry(store, signer):
    as_attacker(store, "DELETE FROM ledger_events WHERE rowid = ?", (nid_at(store, 54),))
    expect_failure(store, signer, 54, "event was deleted")


def test_two_swapped_events_are_named_at_the_first(store, signer):
    a, b = nid_at(store, 3), nid_at(store, 9)
    as_attacker(store, "UPDATE ledger_events SET rowid = -1 WHERE rowid = ?", (a,))
    as_attacker(store, "UPDATE ledger_events SET rowid = ? WHERE rowid = ?", (a, b))
    as_attacker(store, "UPDATE ledger_events SET rowid = ? WHERE rowid = -1", (b,))
    expect_failure(store, signer, 3, "altered after it was chained")


def test_a_forged_event_inserted_without_the_recorder_has_no_chain_entry(store, signer):
    if store.is_sqlite:
        as_attacker(store, "INSERT INTO ledger_events (rowid, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, 1, 'domain.datasets:Dataset.Registered', ?)", (1000, "ab" * 16, b"{}"))
    else:
        as_attacker(store, "INSERT INTO ledger_events (notification_id, originator_id, originator_version, topic, state) "
                           "VALUES (?, ?, 1, 'domain.datasets:Dataset.Registered', ?)", (1000, "ab" * 16, b"{}"))
    expect_failure(store, signer, 55, "no chain entry")


def test_an_event_replaced_with_the_chain_recomputed_is_caught_by_the_signed_root(store, signer):
    """The attacker replaces event 20's payload and rewrites every later leaf and chain hash to match."""
    nid = nid_at(store, 20)
    col = "rowid" if store.is_sqlite else "notification_id"
    state = bytes(query(store, f"SELECT state FROM ledger_events WHERE {col} = ?", (nid,))[0][0])
    forged = state.replace(b"120", b"999", 1)
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = ?", (forged, nid))
    oid_col = "originator_id" if store.is_sqlite else "originator_id::text"
    rows = query(store, f"SELECT c.position, {oid_col}, originator_version, topic, state FROM ledger_chain c "
                        f"JOIN ledger_events e ON e.{col} = c.notification_id ORDER BY c.position")
    previous = bytes(query(store, "SELECT chain_hash FROM ledger_chain WHERE position = 19")[0][0])
    for position, oid, version, topic, st in rows[20:]:
        oid = f"{oid[:8]}-{oid[8:12]}-{oid[12:16]}-{oid[16:20]}-{oid[20:]}" if len(oid) == 32 else oid
        leaf = event_leaf_hash(oid, version, topic, bytes(st))
        previous = chain_hash(previous, leaf)
        as_attacker(store, "UPDATE ledger_chain SET leaf_hash = ?, chain_hash = ? WHERE position = ?", (leaf, previous, position))
    expect_failure(store, signer, 20, "replaced and the chain recomputed")


def test_a_rewritten_chain_hash_is_named(store, signer):
    as_attacker(store, "UPDATE ledger_chain SET chain_hash = ? WHERE position = 33", (bytes(32),))
    expect_failure(store, signer, 33, "chain hash does not follow")


def test_a_truncated_sealed_tail_is_detected(store, signer):
    for position in range(45, 55):
        nid = nid_at(store, position)
        as_attacker(store, "DELETE FROM ledger_events WHERE rowid = ?", (nid,))
        as_attacker(store, "DELETE FROM ledger_chain WHERE position = ?", (position,))
    expect_failure(store, signer, 45, "tail was truncated")


def test_a_rewritten_checkpoint_is_rejected(store, signer):
    note = query(store, "SELECT note FROM ledger_checkpoints WHERE tree_size = 30")[0][0]
    lines = note.split("\n")
    lines[2] = "A" + lines[2][1:] if lines[2][0] != "A" else "B" + lines[2][1:]
    as_attacker(store, "UPDATE ledger_checkpoints SET note = ? WHERE tree_size = 30", ("\n".join(lines),))
    expect_failure(store, signer, 29, "not validly signed")


def test_a_checkpoint_re_signed_with_another_key_is_rejected(store, signer):
    impostor = generate_signer(signer.name)
    root = bytes(query(store, "SELECT root_hash FROM ledger_checkpoints WHERE tree_size = 50")[0][0])
    note = sign_checkpoint(Checkpoint(signer.name, 50, root), impostor)
    as_attacker(store, "UPDATE ledger_checkpoints SET note = ? WHERE tree_size = 50", (note,))
    expect_failure(store, signer, 49, "not validly signed")


def test_a_checkpoint_row_that_disagrees_with_its_note_is_rejected(store, signer):
    as_attacker(store, "UPDATE ledger_checkpoints SET root_hash = ? WHERE tree_size = 30", (bytes(32),))
    expect_failure(store, signer, 29, "disagrees with its signed note")


def test_a_rewritten_stored_tree_node_is_caught_by_the_proofs(store, signer):
    as_attacker(store, "UPDATE ledger_tree_nodes SET hash = ? WHERE level = 3 AND idx = 1", (bytes(32),))
    with pytest.raises(IntegrityFailure, match="stored Merkle tree does not prove"):
        verify(store, signer)
