"""`verify` fails closed: nothing signed is a failure, and a checkpoint held outside the database must be extended.

An attacker who deletes the last events together with their checkpoints and tree nodes leaves a store that is
consistent with itself; only the checkpoint a user kept elsewhere tells the truth.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ledger.errors import IntegrityFailure, InvalidArgument, NothingSigned
from ledger.verify import read_trusted_checkpoint, verify_store
from ledger_tools import Checkpoint, open_checkpoint, sign_checkpoint

from .helpers import as_attacker, fill, query, seal_all, sealed_in_steps


def verify(db, signer, trusted=None):
    with db.connect() as conn:
        return verify_store(db, conn, signer.verifier, trusted=trusted)


def note_at(db, size: int) -> str:
    return query(db, "SELECT note FROM ledger_checkpoints WHERE tree_size = ?", (size,))[0][0]


def held(db, signer, size: int) -> Checkpoint:
    return open_checkpoint(note_at(db, size), signer.verifier, origin=signer.name)


@pytest.fixture
def store(db, signer):
    """30 events sealed, then 20 more sealed: checkpoints of sizes 30 and 50."""
    return sealed_in_steps(db, signer, 30, 20)


def cut_tail_with_its_proofs(db, keep: int) -> None:
    """Delete every event from position `keep` on, with every tree node and checkpoint that covered them."""
    as_attacker(db, "DELETE FROM ledger_events WHERE rowid > ?", (keep,))
    as_attacker(db, "DELETE FROM ledger_checkpoints WHERE tree_size > ?", (keep,))
    nodes = query(db, "SELECT level, idx FROM ledger_tree_nodes")
    for level, idx in nodes:
        if (idx + 1) << level > keep:
            as_attacker(db, "DELETE FROM ledger_tree_nodes WHERE level = ? AND idx = ?", (level, idx))


def test_a_store_with_events_but_no_checkpoint_does_not_verify(db, signer):
    fill(db, 3)
    with pytest.raises(NothingSigned, match="none of its 3 events is sealed"):
        verify(db, signer)


def test_an_emptied_store_does_not_verify(store, signer):
    for table in ("ledger_events", "ledger_tree_nodes", "ledger_checkpoints"):
        as_attacker(store, f"DELETE FROM {table}")
    with pytest.raises(NothingSigned, match="the store is empty"):
        verify(store, signer)


def test_an_emptied_store_fails_against_the_checkpoint_held_outside(store, signer):
    trusted = held(store, signer, 50)
    for table in ("ledger_events", "ledger_tree_nodes", "ledger_checkpoints"):
        as_attacker(store, f"DELETE FROM {table}")
    with pytest.raises(IntegrityFailure, match="holds 0 events, fewer than the 50"):
        verify(store, signer, trusted)


def test_a_tail_deleted_with_its_checkpoints_and_tree_nodes_fails_against_the_held_checkpoint(store, signer):
    trusted = held(store, signer, 50)
    cut_tail_with_its_proofs(store, 30)
    assert verify(store, signer).events == 30  # consistent with itself: this is why a held checkpoint is needed
    with pytest.raises(IntegrityFailure, match="holds 30 events, fewer than the 50 of the trusted checkpoint"):
        verify(store, signer, trusted)


def test_checkpoints_removed_while_the_events_stay_fail_against_the_held_checkpoint(store, signer):
    trusted = held(store, signer, 50)
    as_attacker(store, "DELETE FROM ledger_checkpoints WHERE tree_size = 50")
    with pytest.raises(IntegrityFailure, match="latest checkpoint covers 30 events, fewer than the 50"):
        verify(store, signer, trusted)


def test_a_forked_history_signed_by_the_real_key_fails_against_the_held_checkpoint(store, signer):
    forked = Checkpoint(signer.name, 30, bytes(range(32)))  # the real key signed another history of size 30
    with pytest.raises(IntegrityFailure, match="signs a different root than the trusted checkpoint"):
        verify(store, signer, forked)
    between = Checkpoint(signer.name, 40, bytes(range(32)))  # at a size the store never checkpointed
    with pytest.raises(IntegrityFailure, match="do not give the root of the trusted checkpoint") as info:
        verify(store, signer, between)
    assert info.value.position == 39


def test_a_store_that_extends_the_held_checkpoint_verifies(store, signer):
    trusted = held(store, signer, 30)
    fill(store, 5, start=50)
    report = verify(store, signer, trusted)
    assert (report.events, report.sealed, report.trusted) == (55, 50, trusted)
    assert verify(store, signer, held(store, signer, 50)).trusted.size == 50


def test_a_held_checkpoint_signed_by_another_key_is_refused(store, signer, tmp_path):
    from ledger_tools import generate_signer

    impostor = generate_signer(signer.name)
    path = tmp_path / "held.note"
    path.write_text(sign_checkpoint(held(store, signer, 30), impostor))
    with pytest.raises(InvalidArgument, match="is not a checkpoint signed by"):
        read_trusted_checkpoint(path, signer.verifier)


def _cli(tmp_path, url, key_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=url, GOVLEDGER_SIGNING_KEY=str(key_path), GOVLEDGER_DATA_DIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "govledger.cli", *args], env=env, cwd=tmp_path, capture_output=True, text=True)


def test_govledger_verify_exits_1_when_nothing_is_signed_and_when_the_held_checkpoint_is_not_extended(sqlite_url, key_path, signer,
                                                                                                      tmp_path):
    from ledger.database import Database

    db = Database.from_url(sqlite_url)
    never_sealed = _cli(tmp_path, sqlite_url, key_path, "verify")
    assert never_sealed.returncode == 1 and "nothing_signed" in never_sealed.stderr and "OK" not in never_sealed.stdout
    fill(db, 10)
    seal_all(db, signer)
    (tmp_path / "held.note").write_text(note_at(db, 10))
    fine = _cli(tmp_path, sqlite_url, key_path, "verify", "--trusted-checkpoint", str(tmp_path / "held.note"))
    assert fine.returncode == 0 and "extends the trusted checkpoint of tree size 10" in fine.stdout, fine.stderr
    cut_tail_with_its_proofs(db, 6)
    cut = _cli(tmp_path, sqlite_url, key_path, "verify", "--trusted-checkpoint", str(tmp_path / "held.note"))
    assert cut.returncode == 1 and "fewer than the 10 of the trusted checkpoint" in cut.stderr, cut.stdout + cut.stderr
    assert "Traceback" not in cut.stderr
