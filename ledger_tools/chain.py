"""The govledger event leaf and hash chain (docs/ledger-format.md, "Leaf" and "Chain").

A stored event is four fields as the store holds them: originator id, originator version,
topic and state (the payload bytes as stored, compressed or encrypted or not). Its leaf bytes:

    "GLEV1" || u32(len(id)) || id || u64(version) || u32(len(topic)) || topic || u32(len(state)) || state

with big-endian unsigned integers and id, topic as UTF-8; the id is a UUID in its canonical
lowercase hyphenated form (or the text id as stored). The Merkle leaf hash is RFC 9162's
SHA-256(0x00 || leaf bytes); the chain hash of position p is SHA-256(chain[p-1] || leaf_hash[p])
with chain[-1] = 32 zero bytes.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ChainError, MalformedInputError
from .merkle import HASH_SIZE

__all__ = [
    "LEAF_MAGIC", "GENESIS", "StoredEventFields", "leaf_bytes", "event_leaf_hash", "chain_hash", "chain_events",
    "check_chain",
]

LEAF_MAGIC = b"GLEV1"
GENESIS = bytes(HASH_SIZE)
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_LEAF_PREFIX = b"\x00" + LEAF_MAGIC
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class StoredEventFields:
    """The four stored fields of an event that its leaf covers."""

    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def leaf_bytes(originator_id: str, originator_version: int, topic: str, state: bytes) -> bytes:
    """The exact bytes of an event's Merkle leaf."""
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise MalformedInputError("event state must be bytes")
    if type(originator_version) is not int or not 0 <= originator_version < 1 << 63:
        raise MalformedInputError(f"originator version {originator_version!r} is not an integer in [0, 2^63)")
    if not isinstance(originator_id, str) or not isinstance(topic, str):
        raise MalformedInputError("originator id and topic must be text")
    try:
        oid = originator_id.encode()
        t = topic.encode()
    except UnicodeEncodeError:
        raise MalformedInputError("originator id or topic is not valid Unicode (a lone surrogate)") from None
    return b"".join(
        (LEAF_MAGIC, _U32.pack(len(oid)), oid, _U64.pack(originator_version), _U32.pack(len(t)), t,
         _U32.pack(len(state)), bytes(state))
    )


def event_leaf_hash(originator_id: str, originator_version: int, topic: str, state: bytes) -> bytes:
    """RFC 9162 leaf hash of an event: SHA-256(0x00 || leaf bytes)."""
    return _sha256(b"\x00" + leaf_bytes(originator_id, originator_version, topic, state)).digest()


def chain_events(
    previous: bytes, events: Iterable[tuple[str, int, str, bytes]]
) -> list[tuple[bytes, bytes]]:
    """(leaf hash, chain hash) for each (originator id, version, topic, state) after chain hash `previous`.

    The same bytes as `event_leaf_hash` and `chain_hash`, computed in one loop because the
    service calls this inside every insert transaction.
    """
    if len(previous) != HASH_SIZE:
        raise MalformedInputError("previous chain hash must be 32 bytes")
    u32, u64, sha256, prefix = _U32.pack, _U64.pack, _sha256, _LEAF_PREFIX
    topics: dict[str, bytes] = {}  # a ledger has few topics: encode each once per call
    out = []
    for originator_id, version, topic, state in events:
        o = originator_id.encode()
        t = topics.get(topic)
        if t is None:
            encoded = topic.encode()
            t = topics[topic] = u32(len(encoded)) + encoded
        leaf = sha256(b"".join((prefix, u32(len(o)), o, u64(version), t, u32(len(state)), state))).digest()
        previous = sha256(previous + leaf).digest()
        out.append((leaf, previous))
    return out


def chain_hash(previous: bytes, hashed_leaf: bytes) -> bytes:
    """SHA-256(previous chain hash || leaf hash); both 32 bytes."""
    if len(previous) != HASH_SIZE or len(hashed_leaf) != HASH_SIZE:
        raise MalformedInputError("chain and leaf hashes must be 32 bytes")
    return _sha256(previous + hashed_leaf).digest()


def check_chain(
    entries: Iterable[tuple[StoredEventFields, bytes]], *, start: int = 0, previous: bytes = GENESIS
) -> bytes:
    """Check (event, claimed chain hash) pairs from position `start`; return the last chain hash.

    Raises ChainError naming the first position whose chain hash does not follow; fails closed
    on an empty sequence.
    """
    if len(previous) != HASH_SIZE:
        raise MalformedInputError("previous chain hash must be 32 bytes")
    position = start
    for event, claimed in entries:
        expected = chain_hash(
            previous,
            event_leaf_hash(event.originator_id, event.originator_version, event.topic, event.state),
        )
        if claimed != expected:
            raise ChainError(position, f"chain hash {bytes(claimed).hex()} does not follow; expected {expected.hex()}")
        previous = expected
        position += 1
    if position == start:
        raise MalformedInputError("no events to check")
    return previous
