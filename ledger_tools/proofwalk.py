"""RFC 9162 §2.1.3.2 inclusion verification for many leaves of one tree in a row, sharing the work."""

from __future__ import annotations

import hashlib

from .merkle import HASH_SIZE

__all__ = ["ProofWalker"]

_sha256 = hashlib.sha256


class ProofWalker:
    """RFC 9162 §2.1.3.2 inclusion verification (as merkle.root_from_inclusion_proof), for many leaves in a row.

    Consecutive leaves share the upper part of their paths: once a leaf's climb reaches a node the
    previous (already verified) leaf's climb passed through, with the same hash and the same
    remaining path, the rest of the climb is the same and ends at the same root; so a whole range
    costs about one hash per leaf instead of log₂(n).
    """

    def __init__(self, size: int, root: bytes) -> None:
        self.size, self.root = size, root
        # (level, index) → (hash there, the rest of the path from there)
        self.seen: dict[tuple[int, int], tuple[bytes, bytes]] = {}

    def leads_to_root(self, index: int, leaf: bytes, path: bytes) -> bool:
        """`path` is the proof's hashes concatenated (a multiple of 32 bytes)."""
        if len(path) > HASH_SIZE * (self.size - 1).bit_length():
            # Longer than any proof in this tree; and each step below keeps a copy of the rest of
            # the path, so a forged path of a gigabyte would cost ten or more gigabytes.
            return False
        fn, sn, r, level = index, self.size - 1, leaf, 0
        seen = self.seen
        climbed: dict[tuple[int, int], tuple[bytes, bytes]] = {}
        for k in range(0, len(path), HASH_SIZE):
            if sn == 0:
                return False
            rest = path[k:]
            known = seen.get((level, fn))
            if known is not None and known[0] == r and known[1] == rest:
                self._remember(climbed)
                return True
            climbed[(level, fn)] = (r, rest)
            p = path[k : k + HASH_SIZE]
            if fn & 1 or fn == sn:
                r = _sha256(b"\x01" + p + r).digest()
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
                        level += 1
            else:
                r = _sha256(b"\x01" + r + p).digest()
            fn >>= 1
            sn >>= 1
            level += 1
        if sn != 0 or r != self.root:
            return False
        self._remember(climbed)
        return True

    def _remember(self, climbed: dict[tuple[int, int], tuple[bytes, bytes]]) -> None:
        if len(self.seen) > 500_000:  # bounded: later leaves only ever meet recent climbs
            self.seen.clear()
        self.seen.update(climbed)
