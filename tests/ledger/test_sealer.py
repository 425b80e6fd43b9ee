"""The sealer: checkpoints cover every committed event, a failed seal leaves nothing behind, a broken chain is never signed."""

from __future__ import annotations

import pytest

from ledger.errors import IntegrityFailure
from ledger.sealer import seal_once
from ledger.tree import stored_consistency_proof, stored_inclusion_proof, stored_root
from ledger_tools import open_checkpoint, verify_consistency, verify_inclusion

from .helpers import as_attacker, fill, query, seal_all


def test_each_seal_signs_a_checkpoint_over_everything_committed(db, signer):
    fill(db, 7)
    with db.connect() as conn:
        first = seal_once(db, conn, signer)
        assert first is not None and first.size == 7
        assert seal_once(db, conn, signer) is None  # nothing new: no new checkpoint
    fill(db, 6, start=7)
    assert seal_all(db, signer) == 13
    notes = [n for (n,) in query(db, "SELECT note FROM ledger_checkpoints ORDER BY tree_size")]
    older, newer = (open_checkpoint(n, signer.verifier, origin=signer.name) for n in notes)
    with db.connect() as conn:
        p = db.param()
        verify_consistency(7, 13, stored_consistency_proof(db, conn, 7, 13), older.root, newer.root)
        assert stored_root(db, conn, 13) == newer.root
        leaf = bytes(conn.execute(f"SELECT leaf_hash FROM ledger_events WHERE {db.nid_column} = {p}", (10,)).fetchone()[0])
        verify_inclusion(9, 13, leaf, stored_inclusion_proof(db, conn, 9, 13), newer.root)


def test_a_seal_in_batches_signs_one_checkpoint_per_batch(db, signer):
    fill(db, 10)
    with db.connect() as conn:
        sizes = []
        while (cp := seal_once(db, conn, signer, batch=4)) is not None:
            sizes.append(cp.size)
    assert sizes == [4, 8, 10]


def test_an_interrupted_seal_leaves_nothing_half_written(db, signer, monkeypatch):
    fill(db, 5)
    import ledger.sealer as sealer

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process is stopped between writing nodes and signing

    monkeypatch.setattr(sealer, "sign_checkpoint", crash)
    with db.connect() as conn, pytest.raises(KeyboardInterrupt):
        seal_once(db, conn, signer)
    assert query(db, "SELECT COUNT(*) FROM ledger_tree_nodes")[0][0] == 0
    assert query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0] == 0
    monkeypatch.undo()
    assert seal_all(db, signer) == 5


def test_the_sealer_refuses_to_sign_a_broken_chain(db, signer):
    fill(db, 4)
    as_attacker(db, "UPDATE ledger_events SET chain_hash = ? WHERE rowid = 3", (bytes(32),))
    with db.connect() as conn, pytest.raises(IntegrityFailure, match="refusing to seal") as info:
        seal_once(db, conn, signer)
    assert info.value.position == 2
    assert query(db, "SELECT COUNT(*) FROM ledger_checkpoints")[0][0] == 0
