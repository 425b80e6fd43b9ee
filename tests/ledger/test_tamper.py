"""An attacker who bypasses the append-only triggers changes the store; `verify` names what and where.

The store: 30 events sealed in a first checkpoint, 20 more in a second, 5 not yet sealed.
Position p is the event with notification id p + 1.
"""

from __future__ import annotations

import re

import pytest

from ledger.errors import IntegrityFailure
from ledger.verify import verify_store
from ledger_tools import Checkpoint, generate_signer, sign_checkpoint
from ledger_tools.chain import GENESIS, chain_events

from .helpers import as_attacker, fill, query, sealed_in_steps


@pytest.fixture
def store(db, signer):
    sealed_in_steps(db, signer, 30, 20)
    fill(db, 5, start=50)
    return db


PARALLEL = {"workers": 2, "chunk": 7}  # worker processes over chunks of 7 positions


def verify(db, signer, **options):
    with db.connect() as conn:
        return verify_store(db, conn, signer.verifier, **options)


def expect_failure(db, signer, position: int, pattern: str, **options) -> IntegrityFailure:
    with pytest.raises(IntegrityFailure) as info:
        verify(db, signer, **options)
    assert info.value.position == position, info.value.message
    assert re.search(pattern, info.value.message), info.value.message
    return info.value


def state_at(db, position: int) -> bytes:
    return bytes(query(db, f"SELECT state FROM ledger_events WHERE {db.nid_column} = ?", (position + 1,))[0][0])


def rechain_from(db, position: int, count: int | None = None) -> None:
    """What a careful attacker does after changing history: recompute the leaf and chain hashes from `position` on."""
    oid = "originator_id" if db.is_sqlite else "originator_id::text"
    rows = query(db, f"SELECT {db.nid_column}, {oid}, originator_version, topic, state FROM ledger_events "
                     f"WHERE {db.nid_column} > ? ORDER BY {db.nid_column}", (position,))
    previous = bytes(query(db, f"SELECT chain_hash FROM ledger_events WHERE {db.nid_column} = ?", (position,))[0][0]) if position else GENESIS
    fix = lambda o: f"{o[:8]}-{o[8:12]}-{o[12:16]}-{o[16:20]}-{o[20:]}" if len(o) == 32 else o  # noqa: E731
    rows = rows[:count] if count is not None else rows
    hashes = chain_events(previous, [(fix(o), v, t, bytes(s)) for _, o, v, t, s in rows])
    for (nid, *_), (leaf, chained) in zip(rows, hashes):
        as_attacker(db, "UPDATE ledger_events SET leaf_hash = ?, chain_hash = ? WHERE rowid = ?", (leaf, chained, nid))


def test_an_untouched_store_verifies(store, signer):
    report = verify(store, signer)
    assert (report.events, report.checkpoints, report.sealed) == (55, 2, 50)


def test_worker_processes_verify_an_untouched_store_alike(store, signer):
    assert verify(store, signer, **PARALLEL) == verify(store, signer)


def test_worker_processes_name_an_event_removed_at_a_chunk_boundary(store, signer):
    as_attacker(store, "DELETE FROM ledger_events WHERE rowid = 14")
    expect_failure(store, signer, 13, "position 13 was removed", **PARALLEL)


def test_worker_processes_name_an_event_replaced_with_the_chain_recomputed(store, signer):
    forged = state_at(store, 20).replace(b"120", b"999", 1)
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = 21", (forged,))
    rechain_from(store, 20)
    expect_failure(store, signer, 20, "replaced and the chain recomputed", **PARALLEL)


def test_a_changed_payload_byte_is_named_with_its_aggregate_and_version(store, signer):
    state = state_at(store, 12)
    changed = state.replace(b"112", b"911", 1)
    assert changed != state
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = 13", (changed,))
    failure = expect_failure(store, signer, 12, "altered after it was chained")
    assert failure.version == 1 and failure.aggregate is not None


def test_a_deleted_event_is_named_by_its_position(store, signer):
    as_attacker(store, "DELETE FROM ledger_events WHERE rowid = 8")
    expect_failure(store, signer, 7, "position 7 was removed")


def test_two_swapped_events_are_named_at_the_first(store, signer):
    as_attacker(store, "UPDATE ledger_events SET rowid = 1000 WHERE rowid = 4")
    as_attacker(store, "UPDATE ledger_events SET rowid = 4 WHERE rowid = 10")
    as_attacker(store, "UPDATE ledger_events SET rowid = 10 WHERE rowid = 1000")
    expect_failure(store, signer, 3, "chain hash does not follow")


def test_two_swapped_payloads_are_named_at_the_first(store, signer):
    a, b = state_at(store, 3), state_at(store, 9)
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = 4", (b,))
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = 10", (a,))
    expect_failure(store, signer, 3, "altered after it was chained")


def _insert_forged_at(db, position: int) -> None:
    """Make room at `position` by renumbering every later event, and insert a forged registration there."""
    as_attacker(db, "UPDATE ledger_events SET rowid = rowid + 1000000 WHERE rowid > ?", (position,))
    as_attacker(db, "UPDATE ledger_events SET rowid = rowid - 999999 WHERE rowid > 1000000")
    oid = "ab" * 16 if db.is_sqlite else "abababab-abab-abab-abab-abababababab"
    as_attacker(db, "INSERT INTO ledger_events (rowid, originator_id, originator_version, topic, state, leaf_hash, chain_hash) "
                    "VALUES (?, ?, 1, 'domain.datasets:Dataset.Registered', ?, ?, ?)", (position + 1, oid, b"{}", bytes(32), bytes(32)))


def test_a_forged_event_inserted_with_its_own_hashes_breaks_the_chain_after_it(store, signer):
    _insert_forged_at(store, 52)
    rechain_from(store, 52, count=1)  # the forged event's own leaf and chain hash are right
    expect_failure(store, signer, 53, "chain hash does not follow")


def test_a_forged_event_inserted_into_sealed_history_with_the_chain_recomputed_is_named(store, signer):
    _insert_forged_at(store, 17)
    rechain_from(store, 17)
    failure = expect_failure(store, signer, 17, "replaced and the chain recomputed")
    assert failure.aggregate == "abababab-abab-abab-abab-abababababab"


def test_an_event_replaced_with_the_chain_recomputed_is_caught_by_the_signed_root(store, signer):
    forged = state_at(store, 20).replace(b"120", b"999", 1)
    as_attacker(store, "UPDATE ledger_events SET state = ? WHERE rowid = 21", (forged,))
    rechain_from(store, 20)
    expect_failure(store, signer, 20, "replaced and the chain recomputed")


def test_a_rewritten_chain_hash_is_named(store, signer):
    as_attacker(store, "UPDATE ledger_events SET chain_hash = ? WHERE rowid = 34", (bytes(32),))
    expect_failure(store, signer, 33, "chain hash does not follow")


def test_a_truncated_sealed_tail_is_detected(store, signer):
    as_attacker(store, "DELETE FROM ledger_events WHERE rowid > 45")
    expect_failure(store, signer, 45, "tail was truncated")


def test_a_rewritten_checkpoint_is_rejected(store, signer):
    note = query(store, "SELECT note FROM ledger_checkpoints WHERE tree_size = 30")[0][0]
    lines = note.split("\n")
    lines[2] = ("A" if lines[2][0] != "A" else "B") + lines[2][1:]
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
