"""`govledger verify`: recompute every leaf and chain hash and every signed root from the stored events.

Checks, in one pass in notification order:
- every event has exactly one chain entry, positions run 0, 1, 2, … with no gap;
- each event's stored bytes give its stored leaf hash (payload, topic, id or version not altered);
- each chain hash follows from the previous one (nothing removed, reordered or inserted);
- at each checkpoint's size, the root recomputed from the events equals the signed root;
and before it every checkpoint's signature and origin, and after it the stored tree's
consistency proofs between consecutive checkpoints and inclusion proofs for a sample of leaves.
The first failure raises IntegrityFailure naming the position, aggregate and version.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger_tools.chain import GENESIS, LEAF_MAGIC, event_leaf_hash
from ledger_tools.checkpoint import Checkpoint, open_checkpoint
from ledger_tools.errors import LedgerToolsError
from ledger_tools.merkle import CompactRange, verify_consistency, verify_inclusion
from ledger_tools.note import Verifier

from .database import Database
from .errors import IntegrityFailure
from .tree import stored_consistency_proof, stored_inclusion_proof

FETCH = 20_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    events: int
    checkpoints: int
    sealed: int  # events covered by the latest checkpoint
    latest: Checkpoint | None


def _load_checkpoints(conn: Any, verifier: Verifier) -> list[Checkpoint]:
    checkpoints = []
    for size, root, note in conn.execute("SELECT tree_size, root_hash, note FROM ledger_checkpoints ORDER BY tree_size"):
        try:
            cp = open_checkpoint(note, verifier, origin=verifier.name)
        except LedgerToolsError as e:
            raise IntegrityFailure(f"checkpoint of tree size {size} is not validly signed by {verifier.name}: {e}", position=size - 1) from None
        if cp.size != size or cp.root != bytes(root):
            raise IntegrityFailure(f"checkpoint row of tree size {size} disagrees with its signed note (size {cp.size})", position=size - 1)
        checkpoints.append(cp)
    return checkpoints


def _rows(db: Database, conn: Any) -> Iterator[tuple[Any, ...]]:
    if db.is_sqlite:
        cur = conn.execute(
            "SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, c.position, c.leaf_hash, c.chain_hash"
            " FROM ledger_events e LEFT JOIN ledger_chain c ON c.notification_id = e.rowid ORDER BY e.rowid"
        )
    else:
        cur = conn.cursor(name="govledger_verify")
        cur.itersize = FETCH
        cur.execute(
            "SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, c.position, c.leaf_hash, c.chain_hash"
            " FROM ledger_events e LEFT JOIN ledger_chain c ON c.notification_id = e.notification_id ORDER BY e.notification_id"
        )
    while batch := cur.fetchmany(FETCH):
        yield from batch


def _hex_uuid(text: str) -> str:
    # SQLite stores UUIDs as 32 hex digits; the leaf uses the canonical hyphenated form.
    if len(text) == 32:
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return str(UUID(text))


def verify_store(
    db: Database, conn: Any, verifier: Verifier, *, progress: Progress | None = None, samples: int = 64
) -> VerifyReport:
    """Verify the whole store; raise IntegrityFailure at the first thing wrong."""
    checkpoints = _load_checkpoints(conn, verifier)
    total = int(conn.execute("SELECT COUNT(*) FROM ledger_events").fetchone()[0])
    sizes = {cp.size: cp for cp in checkpoints}
    next_checkpoint = checkpoints[0].size if checkpoints else -1
    tree = CompactRange()
    sha256 = hashlib.sha256
    u32, u64 = struct.Struct(">I").pack, struct.Struct(">Q").pack
    previous = GENESIS
    position = previous_checkpoint = 0
    canonical = _hex_uuid if db.is_sqlite else str
    for nid, oid, version, topic, state, pos, stored_leaf, stored_chain in _rows(db, conn):
        oid_text = canonical(oid)
        if pos is None:
            raise IntegrityFailure("event has no chain entry: it was written outside the ledger's recorder",
                                   position=position, notification_id=nid, aggregate=oid_text, version=version)
        if pos != position:
            raise IntegrityFailure(f"event is chained at position {pos}, expected {position}: events were removed or reordered",
                                   position=position, notification_id=nid, aggregate=oid_text, version=version)
        o, t, s = oid_text.encode(), topic.encode(), bytes(state)
        leaf = sha256(b"\x00" + LEAF_MAGIC + u32(len(o)) + o + u64(version) + u32(len(t)) + t + u32(len(s)) + s).digest()
        if leaf != stored_leaf:
            raise IntegrityFailure("stored event bytes do not match their leaf hash: the event was altered after it was chained",
                                   position=position, notification_id=nid, aggregate=oid_text, version=version)
        previous = sha256(previous + leaf).digest()
        if previous != stored_chain:
            raise IntegrityFailure("chain hash does not follow from the previous event: the chain was rewritten",
                                   position=position, notification_id=nid, aggregate=oid_text, version=version)
        tree.append(leaf)
        position += 1
        if position == next_checkpoint:
            if tree.root() != sizes[position].root:
                _locate_replaced(db, conn, previous_checkpoint, position)
                raise IntegrityFailure(
                    f"the events before position {position} do not give the root signed in the checkpoint of size {position},"
                    " and the stored tree was rewritten to match them: events were replaced and the chain recomputed",
                    position=position - 1)
            previous_checkpoint = position
            later = [s for s in sizes if s > position]
            next_checkpoint = min(later) if later else -1
        if progress is not None and position % FETCH == 0:
            progress(position, total)
    if position != total:
        raise IntegrityFailure(f"counted {total} events but read {position}")
    orphan = conn.execute(
        "SELECT MIN(position) FROM ledger_chain WHERE position >= " + str(position)
    ).fetchone()[0]
    if orphan is not None:
        raise IntegrityFailure("chain entry has no event: the event was deleted", position=int(orphan))
    if checkpoints and checkpoints[-1].size > position:
        raise IntegrityFailure(
            f"the checkpoint of size {checkpoints[-1].size} covers more events than the {position} stored: the tail was truncated",
            position=position)
    _check_stored_tree(db, conn, checkpoints, samples)
    if progress is not None:
        progress(position, total)
    return VerifyReport(position, len(checkpoints), checkpoints[-1].size if checkpoints else 0, checkpoints[-1] if checkpoints else None)


def _locate_replaced(db: Database, conn: Any, lo: int, hi: int) -> None:
    """Name the first event in [lo, hi) whose leaf differs from the leaf the sealer stored for it."""
    join = "e.rowid" if db.is_sqlite else "e.notification_id"
    oid = "e.originator_id" if db.is_sqlite else "e.originator_id::text"
    p = db.param()
    rows = conn.execute(
        f"SELECT c.position, c.notification_id, {oid}, e.originator_version, e.topic, e.state, t.hash"
        f" FROM ledger_chain c JOIN ledger_events e ON {join} = c.notification_id"
        f" LEFT JOIN ledger_tree_nodes t ON t.level = 0 AND t.idx = c.position"
        f" WHERE c.position >= {p} AND c.position < {p} ORDER BY c.position", (lo, hi)).fetchall()
    canonical = _hex_uuid if db.is_sqlite else str
    for position, nid, oid_value, version, topic, state, sealed in rows:
        aggregate = canonical(oid_value)
        if sealed is None or event_leaf_hash(aggregate, version, topic, bytes(state)) != bytes(sealed):
            raise IntegrityFailure(
                f"event differs from the leaf sealed for it at position {position}: it was replaced and the chain recomputed",
                position=position, notification_id=nid, aggregate=aggregate, version=version)


def _check_stored_tree(db: Database, conn: Any, checkpoints: list[Checkpoint], samples: int) -> None:
    """The stored tree must prove what the checkpoints sign: consistency between each pair, inclusion for a sample."""
    p = db.param()
    try:
        for older, newer in zip(checkpoints, checkpoints[1:]):
            proof = stored_consistency_proof(conn, older.size, newer.size, p)
            verify_consistency(older.size, newer.size, proof, older.root, newer.root)
        if not checkpoints:
            return
        latest = checkpoints[-1]
        rng = random.Random()
        picks = {0, latest.size - 1} | {rng.randrange(latest.size) for _ in range(samples)}
        leaves = dict(conn.execute(
            f"SELECT position, leaf_hash FROM ledger_chain WHERE position IN ({','.join([p] * len(picks))})", sorted(picks)
        ).fetchall())
        if len(leaves) != len(picks):
            raise IntegrityFailure("a sampled position has no chain entry")
        for i in sorted(picks):
            verify_inclusion(i, latest.size, bytes(leaves[i]), stored_inclusion_proof(conn, i, latest.size, p), latest.root)
    except LedgerToolsError as e:
        raise IntegrityFailure(f"the stored Merkle tree does not prove the signed checkpoints: {e}") from None
