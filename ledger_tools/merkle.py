"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and proof verification.

All hashes are SHA-256 and exactly 32 bytes; anything else is rejected before hashing.
Leaf and tree indices are 0-based. Proof generation works over any source of subtree
hashes (`SubtreeHash`), so the same code serves an in-memory list of leaves and the
service's stored tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from .errors import MalformedInputError, ProofError, RootMismatchError

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "SubtreeHash",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "CompactRange",
    "inclusion_proof",
    "inclusion_proof_ranges",
    "consistency_proof_ranges",
    "consistency_proof",
    "subtree_hash_from_perfect",
    "perfect_nodes_needed",
    "root_from_inclusion_proof",
    "verify_inclusion",
    "verify_consistency",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Returns MTH(D[start:end]) for 0 <= start < end <= tree size.
SubtreeHash = Callable[[int, int], bytes]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || left || right). Both children must be 32 bytes."""
    _check_hash(left, "left child")
    _check_hash(right, "right child")
    return _sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise MalformedInputError(f"{what} must be a {HASH_SIZE}-byte hash, got {size}")


def _check_size(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedInputError(f"{what} must be a non-negative integer, got {value!r}")


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): enough to append and to get the root.

    `append` reports every perfect node it completes through `on_node(level, index, hash)`,
    which is how the service stores its tree.
    """

    __slots__ = ("size", "_stack")

    def __init__(self, size: int = 0, roots: Sequence[bytes] = ()) -> None:
        _check_size(size, "size")
        if len(roots) != bin(size).count("1"):
            raise MalformedInputError(f"a compact range of size {size} has {bin(size).count('1')} roots, got {len(roots)}")
        for r in roots:
            _check_hash(r, "compact range root")
        self.size = size
        self._stack = list(roots)

    @property
    def roots(self) -> list[bytes]:
        return list(self._stack)

    def append(self, hashed_leaf: bytes, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        _check_hash(hashed_leaf, "leaf hash")
        stack = self._stack
        index = self.size
        h = hashed_leaf
        level = 0
        while index & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            index >>= 1
            level += 1
            if on_node is not None:
                on_node(level, index, h)
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        it = reversed(self._stack)
        h = next(it)
        for left in it:
            h = _sha256(b"\x01" + left + h).digest()
        return h


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes in order (RFC 9162 §2.1.1); SHA-256('') for no leaves."""
    cr = CompactRange()
    for h in hashes:
        cr.append(h)
    return cr.root()


def perfect_nodes_needed(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index), left to right, whose hashes give MTH(D[start:end]).

    Precondition: start is a multiple of the largest power of two not above end - start, which
    holds for every range that RFC 9162 proofs ask for.
    """
    nodes = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        width = 1 << level
        if start % width:
            raise MalformedInputError(f"range [{start}, {end}) is not aligned to a tree node")
        nodes.append((level, start >> level))
        start += width
    return nodes


def subtree_hash_from_perfect(nodes: Sequence[bytes]) -> bytes:
    """Fold the perfect-subtree hashes of `perfect_nodes_needed` into MTH of their range."""
    if not nodes:
        raise MalformedInputError("a subtree needs at least one node")
    h = nodes[-1]
    for left in reversed(nodes[:-1]):
        h = node_hash(left, h)
    return h


def _inclusion_ranges(index: int, start: int, end: int, out: list[tuple[int, int]]) -> None:
    # RFC 9162 §2.1.3.1 PATH(m, D[n]), listing the sibling ranges bottom-up.
    n = end - start
    if n == 1:
        return
    k = _split(n)
    if index < k:
        _inclusion_ranges(index, start, start + k, out)
        out.append((start + k, end))
    else:
        _inclusion_ranges(index - k, start + k, end, out)
        out.append((start, start + k))


def _consistency_ranges(m: int, start: int, end: int, complete: bool, out: list[tuple[int, int]]) -> None:
    # RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
    n = end - start
    if m == n:
        if not complete:
            out.append((start, end))
        return
    k = _split(n)
    if m <= k:
        _consistency_ranges(m, start, start + k, complete, out)
        out.append((start + k, end))
    else:
        _consistency_ranges(m - k, start + k, end, False, out)
        out.append((start, start + k))


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form the inclusion proof of `index` in a tree of `size`."""
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    if index >= size:
        raise MalformedInputError(f"leaf index {index} is not below tree size {size}")
    out: list[tuple[int, int]] = []
    _inclusion_ranges(index, 0, size, out)
    return out


def consistency_proof_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form the consistency proof from size1 to size2."""
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
    if not 0 < size1 <= size2:
        raise MalformedInputError(f"a consistency proof needs 0 < size1 <= size2, got {size1} and {size2}")
    out: list[tuple[int, int]] = []
    if size1 < size2:
        _consistency_ranges(size1, 0, size2, True, out)
    return out


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of the first `size` leaves."""
    return [subtree(a, b) for a, b in inclusion_proof_ranges(index, size)]


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 §2.1.4.1: the proof that the tree of size2 leaves extends the tree of size1."""
    return [subtree(a, b) for a, b in consistency_proof_ranges(size1, size2)]


def root_from_inclusion_proof(index: int, size: int, hashed_leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1–4: the root that `proof` implies for `hashed_leaf` at `index`."""
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    _check_hash(hashed_leaf, "leaf hash")
    for p in proof:
        _check_hash(p, "proof element")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, hashed_leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} hashes, more than a tree of size {size} needs")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, fewer than a tree of size {size} needs")
    return r


def verify_inclusion(index: int, size: int, hashed_leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Verify that `hashed_leaf` is leaf `index` of the tree of `size` with `root`; raise if not."""
    _check_hash(root, "root hash")
    calculated = root_from_inclusion_proof(index, size, hashed_leaf, proof)
    if calculated != root:
        raise RootMismatchError(
            f"inclusion proof for leaf {index} in tree size {size} gives root {calculated.hex()}, expected {root.hex()}"
        )


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: verify that the tree (size2, root2) extends (size1, root1); raise if not.

    A proof from the empty tree proves nothing and is rejected (fail closed), as is size1 > size2.
    """
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    for p in proof:
        _check_hash(p, "proof element")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 > size2:
        raise ProofError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError(f"trees of equal size {size1} need an empty consistency proof, got {len(proof)} hashes")
        if root1 != root2:
            raise RootMismatchError(f"two trees of size {size1} have different roots {root1.hex()} and {root2.hex()}")
        return
    if not proof:
        raise ProofError(f"consistency proof from size {size1} to {size2} is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof from size {size1} to {size2} has too many hashes")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof from size {size1} to {size2} has too few hashes")
    if fr != root1:
        raise RootMismatchError(f"consistency proof gives first root {fr.hex()}, expected {root1.hex()}")
    if sr != root2:
        raise RootMismatchError(f"consistency proof gives second root {sr.hex()}, expected {root2.hex()}")
