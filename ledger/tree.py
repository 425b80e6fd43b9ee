"""The stored RFC 9162 tree: every sealed leaf and completed perfect subtree in `ledger_tree_nodes`.

A node (level L, index i) is MTH of leaves [i·2^L, (i+1)·2^L); level 0 is the leaf hash at
position i, copied there by the sealer, so the tree is self-contained and `verify` can tell which
sealed leaf an event no longer matches. Any subtree a proof needs is a fold of O(log n) perfect nodes, so proofs and roots
cost a single indexed query whatever the size of the ledger.
"""

from __future__ import annotations

from typing import Any

from ledger_tools.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof_ranges,
    inclusion_proof_ranges,
    perfect_nodes_needed,
    subtree_hash_from_perfect,
)

from .errors import IntegrityFailure


def sealed_size(conn: Any) -> int:
    """The size of the largest signed checkpoint: every leaf below it is in the stored tree."""
    row = conn.execute("SELECT MAX(tree_size) FROM ledger_checkpoints").fetchone()
    return int(row[0] or 0)


def fetch_nodes(conn: Any, coords: set[tuple[int, int]], param: str) -> dict[tuple[int, int], bytes]:
    """Stored hashes of perfect nodes (level, index); a missing one is an integrity failure."""
    found: dict[tuple[int, int], bytes] = {}
    if coords:
        ordered = sorted(coords)
        cond = " OR ".join([f"(level = {param} AND idx = {param})"] * len(ordered))
        flat = [v for pair in ordered for v in pair]
        for lv, i, h in conn.execute(f"SELECT level, idx, hash FROM ledger_tree_nodes WHERE {cond}", flat).fetchall():
            found[(int(lv), int(i))] = bytes(h)
    missing = coords - found.keys()
    if missing:
        lv, i = min(missing)
        raise IntegrityFailure(f"the stored Merkle tree lacks node level {lv} index {i}", position=i << lv)
    return found


def _subtrees(conn: Any, ranges: list[tuple[int, int]], param: str) -> list[bytes]:
    plans = [perfect_nodes_needed(a, b) for a, b in ranges]
    nodes = fetch_nodes(conn, {c for plan in plans for c in plan}, param)
    return [subtree_hash_from_perfect([nodes[c] for c in plan]) for plan in plans]


def stored_root(conn: Any, size: int, param: str) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _subtrees(conn, [(0, size)], param)[0]


def stored_inclusion_proof(conn: Any, index: int, size: int, param: str) -> list[bytes]:
    return _subtrees(conn, inclusion_proof_ranges(index, size), param)


def stored_consistency_proof(conn: Any, size1: int, size2: int, param: str) -> list[bytes]:
    return _subtrees(conn, consistency_proof_ranges(size1, size2), param)


def stored_compact_range(conn: Any, size: int, param: str) -> CompactRange:
    """The compact range of the first `size` leaves, from which the sealer appends."""
    coords = []
    start = 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            coords.append((level, start >> level))
            start += 1 << level
    nodes = fetch_nodes(conn, set(coords), param)
    return CompactRange(size, [nodes[c] for c in coords])
