"""The fast Merkle code against a slow implementation written straight from RFC 9162 §2.1."""

from __future__ import annotations

import hashlib
import random

import pytest

from ledger_tools import (
    CompactRange,
    LedgerToolsError,
    MalformedInputError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger_tools.merkle import perfect_nodes_needed, subtree_hash_from_perfect


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


DATA = [f"leaf {i}".encode() for i in range(70)]
HASHES = [leaf_hash(x) for x in DATA]


def subtree(a: int, b: int) -> bytes:
    return root_from_leaf_hashes(HASHES[a:b])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 70])
def test_root_matches_the_rfc_definition(n):
    assert root_from_leaf_hashes(HASHES[:n]) == mth(DATA[:n])


def test_inclusion_and_consistency_proofs_match_the_rfc_definition_for_every_size_up_to_40():
    for n in range(1, 41):
        root = mth(DATA[:n])
        for m in range(n):
            proof = inclusion_proof(m, n, subtree)
            assert proof == path(m, DATA[:n])
            verify_inclusion(m, n, HASHES[m], proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, subtree)
            assert proof == (subproof(m, DATA[:n], True) if m < n else [])
            verify_consistency(m, n, proof, mth(DATA[:m]), root)


def test_compact_range_reports_every_perfect_node_it_completes():
    nodes = {}
    cr = CompactRange()
    for h in HASHES[:37]:
        cr.append(h, lambda level, index, value: nodes.__setitem__((level, index), value))
    assert cr.root() == mth(DATA[:37])
    for (level, index), value in nodes.items():
        assert value == mth(DATA[index << level : (index + 1) << level])
    assert len(nodes) == 37 - bin(37).count("1")
    resumed = CompactRange(cr.size, cr.roots)
    resumed.append(HASHES[37])
    assert resumed.root() == mth(DATA[:38])


def test_any_proof_range_can_be_folded_from_perfect_nodes():
    for a, b in [(0, 7), (8, 13), (32, 70), (64, 70), (68, 69)]:
        needed = perfect_nodes_needed(a, b)
        values = [mth(DATA[i << lv : (i + 1) << lv]) for lv, i in needed]
        assert subtree_hash_from_perfect(values) == mth(DATA[a:b])


def test_single_bit_flips_in_any_proof_element_are_rejected():
    rng = random.Random(7)
    n = 70
    root = mth(DATA[:n])
    for m in rng.sample(range(n), 20):
        proof = inclusion_proof(m, n, subtree)
        i = rng.randrange(len(proof))
        bad = bytearray(proof[i])
        bad[rng.randrange(32)] ^= 1 << rng.randrange(8)
        with pytest.raises(LedgerToolsError):
            verify_inclusion(m, n, HASHES[m], proof[:i] + [bytes(bad)] + proof[i + 1 :], root)


@pytest.mark.parametrize(
    "args",
    [
        (0, 1, b"short", [], bytes(32)),
        (0, 1, bytes(32), [], b""),
        (0, 0, bytes(32), [], bytes(32)),
        (-1, 4, bytes(32), [], bytes(32)),
        (0, 2, bytes(32), [bytes(31)], bytes(32)),
    ],
)
def test_malformed_inclusion_input_fails_closed(args):
    with pytest.raises(LedgerToolsError):
        verify_inclusion(*args)


def test_proof_generation_rejects_out_of_range_indices():
    with pytest.raises(MalformedInputError):
        inclusion_proof(5, 5, subtree)
    with pytest.raises(MalformedInputError):
        consistency_proof(0, 5, subtree)
    with pytest.raises(MalformedInputError):
        consistency_proof(6, 5, subtree)


def test_check_chain_accepts_an_intact_chain_and_names_the_first_broken_link():
    from ledger_tools import ChainError, StoredEventFields, chain_events, check_chain
    from ledger_tools.chain import GENESIS

    events = [StoredEventFields(f"id-{i}", 1, "topic", f"state {i}".encode()) for i in range(6)]
    chained = [c for _, c in chain_events(GENESIS, [(e.originator_id, 1, e.topic, e.state) for e in events])]
    assert check_chain(zip(events, chained)) == chained[-1]
    assert check_chain(zip(events[3:], chained[3:]), start=3, previous=chained[2]) == chained[-1]
    tampered = events[:4] + [StoredEventFields("id-4", 1, "topic", b"state 4!")] + events[5:]
    with pytest.raises(ChainError) as info:
        check_chain(zip(tampered, chained))
    assert info.value.position == 4
    with pytest.raises(MalformedInputError):
        check_chain([])
