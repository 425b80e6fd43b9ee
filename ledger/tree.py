"""The stored RFC 9162 tree: every sealed leaf and completed perfect subtree in `ledger_tree_nodes`.

A node (level L, index i) is MTH of leaves [i·2^L, (i+1)·2^L); level 0 is the leaf hash at
position i, copied there by the sealer, so the tree is self-contained and `verify` can tell which
sealed leaf an event no longer matches. Any subtree a proof needs is a fold of O(log n) perfect
nodes, so a proof or a root costs one indexed query whatever the size of the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ledger_tools.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof_ranges,
    inclusion_proof_ranges,
    perfect_nodes_needed,
    subtree_hash_from_perfect,
)

from .database import Database
from .errors import IntegrityFailure

Node = tuple[int, int]
SQLITE_TERMS = 400


def sealed_size(conn: Any) -> int:
    """The size of the largest signed checkpoint: every leaf below it is in the stored tree."""
    row = conn.execute("SELECT MAX(tree_size) FROM ledger_checkpoints").fetchone()
    return int(row[0] or 0)


def fetch_nodes(db: Database, conn: Any, coords: set[Node]) -> dict[Node, bytes]:
    """Stored hashes of perfect nodes (level, index) in one query; a missing one is an integrity failure."""
    if not coords:
        return {}
    ordered = sorted(coords)
    found: dict[Node, bytes] = {}
    if db.is_sqlite:
        for start in range(0, len(ordered), SQLITE_TERMS):  # SQLite caps an expression's depth at 1,000
            part = ordered[start : start + SQLITE_TERMS]
            cond = " OR ".join(["(level = ? AND idx = ?)"] * len(part))
            rows = conn.execute(f"SELECT level, idx, hash FROM ledger_tree_nodes WHERE {cond}", [v for c in part for v in c])
            found.update({(int(lv), int(i)): bytes(h) for lv, i, h in rows.fetchall()})
    else:
        rows = conn.execute(
            "SELECT t.level, t.idx, t.hash FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
            " JOIN ledger_tree_nodes t ON t.level = k.level AND t.idx = k.idx",
            ([c[0] for c in ordered], [c[1] for c in ordered]), prepare=True)
        found = {(int(lv), int(i)): bytes(h) for lv, i, h in rows.fetchall()}
    missing = coords - found.keys()
    if missing:
        lv, i = min(missing)
        raise IntegrityFailure(f"the stored Merkle tree lacks node level {lv} index {i}", position=i << lv)
    return found


def _subtrees(db: Database, conn: Any, ranges: list[tuple[int, int]], extra: set[Node] = frozenset()) -> tuple[list[bytes], dict[Node, bytes]]:
    plans = [perfect_nodes_needed(a, b) for a, b in ranges]
    nodes = fetch_nodes(db, conn, {c for plan in plans for c in plan} | extra)
    return [subtree_hash_from_perfect([nodes[c] for c in plan]) for plan in plans], nodes


def stored_root(db: Database, conn: Any, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _subtrees(db, conn, [(0, size)])[0][0]


def stored_inclusion(db: Database, conn: Any, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """The sealed leaf hash at `index` and its inclusion proof in the tree of `size`, in one query."""
    proof, nodes = _subtrees(db, conn, inclusion_proof_ranges(index, size), {(0, index)})
    return nodes[(0, index)], proof


def stored_inclusion_proof(db: Database, conn: Any, index: int, size: int) -> list[bytes]:
    return stored_inclusion(db, conn, index, size)[1]


def stored_consistency_proof(db: Database, conn: Any, size1: int, size2: int) -> list[bytes]:
    return _subtrees(db, conn, consistency_proof_ranges(size1, size2))[0]


def stored_compact_range(db: Database, conn: Any, size: int) -> CompactRange:
    """The compact range of the first `size` leaves, from which the sealer appends."""
    coords = []
    start = 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            coords.append((level, start >> level))
            start += 1 << level
    nodes = fetch_nodes(db, conn, set(coords))
    return CompactRange(size, [nodes[c] for c in coords])


def stored_inclusions(db: Database, conn: Any, positions: list[int], size: int, batch: int = 2_000) -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(position, sealed leaf hash, inclusion proof) for many positions, fetching nodes a batch of positions at a time."""
    for start in range(0, len(positions), batch):
        chunk = positions[start : start + batch]
        plans = {p: [perfect_nodes_needed(a, b) for a, b in inclusion_proof_ranges(p, size)] for p in chunk}
        coords = {c for plan in plans.values() for nodes in plan for c in nodes} | {(0, p) for p in chunk}
        nodes = fetch_nodes(db, conn, coords)
        for p in chunk:
            yield p, nodes[(0, p)], [subtree_hash_from_perfect([nodes[c] for c in plan]) for plan in plans[p]]
