"""`govledger verify`: recompute every leaf and chain hash and every signed root from the stored events.

Checks, in one pass in notification order:
- notification ids run 1, 2, 3, … (position = id − 1): nothing removed from the middle;
- each event's stored bytes give its stored leaf hash (payload, topic, id or version not altered);
- each chain hash follows from the previous one (nothing removed, reordered or inserted);
- at each checkpoint's size, the root recomputed from the events equals the signed root;
and before it every checkpoint's signature and origin, and after it the stored tree's
consistency proofs between consecutive checkpoints and inclusion proofs for a sample of leaves.
The first failure raises IntegrityFailure naming the position, aggregate and version.

It fails closed: a store with no signed checkpoint (never sealed, or emptied) raises NothingSigned.
A store whose last events were deleted together with their checkpoints and tree nodes is consistent
with itself; only a checkpoint held outside the database (`trusted`) can show it, so with one the
store must extend it: its events at that size give the trusted root, and the stored tree proves the
latest checkpoint consistent with it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger_tools.chain import GENESIS, chain_events
from ledger_tools.checkpoint import Checkpoint, open_checkpoint
from ledger_tools.errors import LedgerToolsError
from ledger_tools.merkle import HASH_SIZE, CompactRange, verify_consistency, verify_inclusion
from ledger_tools.note import Verifier

from .database import Database
from .errors import IntegrityFailure, InvalidArgument, NothingSigned
from .tree import stored_consistency_proof, stored_inclusion_proof

FETCH = 20_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    events: int
    checkpoints: int
    sealed: int  # events covered by the latest checkpoint
    latest: Checkpoint
    trusted: Checkpoint | None = None  # the checkpoint held outside the database that the store was proven to extend


def read_trusted_checkpoint(path: Path, verifier: Verifier) -> Checkpoint:
    """A checkpoint kept outside the database, signed by `verifier` under its own name; InvalidArgument if it is not."""
    try:
        note = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"cannot read the trusted checkpoint {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return open_checkpoint(note, verifier, origin=verifier.name)
    except LedgerToolsError as e:
        raise InvalidArgument(f"{path} is not a checkpoint signed by {verifier.name}: {e}") from None


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


def canonical_id(db: Database) -> Callable[[Any], str]:
    if not db.is_sqlite:
        return str

    def from_hex(text: str) -> str:  # SQLite stores UUIDs as 32 hex digits; leaves use the hyphenated form
        if len(text) == 32:
            return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        return str(UUID(text))

    return from_hex


def event_query(db: Database, where: str = "") -> str:
    oid = "originator_id" if db.is_sqlite else "originator_id::text"
    return (f"SELECT {db.nid_column}, {oid}, originator_version, topic, state, leaf_hash, chain_hash"
            f" FROM ledger_events {where} ORDER BY {db.nid_column}")


@dataclass(frozen=True)
class _Chunk:
    """Positions [lo, hi) checked by one worker: leaves, chain links (the first from the stored hash at lo − 1)."""

    db: Database
    lo: int
    hi: int


def _check_chunk(chunk: _Chunk) -> tuple[bytes, dict[str, Any] | None]:
    """Recompute and compare every leaf and chain link in the chunk; return its leaves, and the first failure."""
    db, p, nid_col = chunk.db, chunk.db.param(), chunk.db.nid_column
    canonical = canonical_id(db)
    leaves = bytearray()
    with db.connect() as conn:
        previous = GENESIS
        if chunk.lo:
            row = conn.execute(f"SELECT chain_hash FROM ledger_events WHERE {nid_col} = {p}", (chunk.lo,)).fetchone()
            if row is None:
                return bytes(leaves), {"message": f"the event at position {chunk.lo - 1} was removed", "position": chunk.lo - 1}
            previous = bytes(row[0])
        query = event_query(db, f"WHERE {nid_col} > {p} AND {nid_col} <= {p}")
        if db.is_sqlite:
            cur = conn.execute(query, (chunk.lo, chunk.hi))
        else:
            cur = conn.cursor(name="govledger_verify", binary=True)
            cur.itersize = FETCH
            cur.execute(query, (chunk.lo, chunk.hi))
        position = chunk.lo
        while batch := cur.fetchmany(FETCH):
            ids = [canonical(row[1]) for row in batch] if db.is_sqlite else [row[1] for row in batch]
            recomputed = chain_events(previous, [(oid, row[2], row[3], row[4]) for oid, row in zip(ids, batch)])
            for i, (row, (leaf, chained)) in enumerate(zip(batch, recomputed)):
                if row[0] != position + 1 or leaf != row[5] or chained != row[6]:
                    leaves += b"".join(good for good, _ in recomputed[:i])  # so earlier checkpoints are still checked first
                    return bytes(leaves), _failure(row, canonical(row[1]), position, leaf, chained)
                position += 1
            leaves += b"".join(leaf for leaf, _ in recomputed)
            previous = recomputed[-1][1]
        conn.rollback()
    if position < chunk.hi:
        return bytes(leaves), {"message": f"the event at position {position} was removed", "position": position}
    return bytes(leaves), None


def _failure(row: tuple[Any, ...], aggregate: str, position: int, leaf: bytes, chained: bytes) -> dict[str, Any]:
    nid, version = row[0], row[2]
    if nid != position + 1:
        return {"message": f"notification ids jump from {position} to {nid}: the event at position {position} was removed",
                "position": position}
    where = {"position": position, "notification_id": nid, "aggregate": aggregate, "version": version}
    if leaf != row[5]:
        return {"message": "stored event bytes do not match their leaf hash: the event was altered after it was chained", **where}
    return {"message": "chain hash does not follow from the previous event: events were removed, reordered or inserted", **where}


def _chunks(db: Database, end: int, size: int) -> list[_Chunk]:
    return [_Chunk(db, lo, min(lo + size, end)) for lo in range(0, end, size)]


def _checked(chunks: list[_Chunk], workers: int) -> Iterator[tuple[_Chunk, bytes, dict[str, Any] | None]]:
    """Chunk results in order; in worker processes when asked (hashing is CPU-bound and the GIL is per process)."""
    if workers <= 1 or len(chunks) < 2:
        for chunk in chunks:
            yield (chunk, *_check_chunk(chunk))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for chunk, result in zip(chunks, pool.map(_check_chunk, chunks)):
            yield (chunk, *result)


def verify_store(
    db: Database, conn: Any, verifier: Verifier, *, trusted: Checkpoint | None = None, progress: Progress | None = None,
    samples: int = 64, workers: int | None = None, chunk: int = 100_000,
) -> VerifyReport:
    """Verify the whole store; raise IntegrityFailure at the first thing wrong, NothingSigned when nothing is signed.

    `trusted` is a checkpoint held outside the database, already opened with `verifier`: the store must extend it.
    `workers` processes share the hashing (default: one per CPU for stores of more than one chunk).
    """
    checkpoints = _load_checkpoints(conn, verifier)
    end = db.events(conn)
    conn.rollback()
    _check_signed_and_long_enough(checkpoints, end, trusted)
    roots = {cp.size: cp.root for cp in checkpoints}
    stored = set(roots)
    if trusted is not None:
        roots.setdefault(trusted.size, trusted.root)
        if roots[trusted.size] != trusted.root:
            raise IntegrityFailure(
                f"the store's checkpoint of size {trusted.size} signs a different root than the trusted checkpoint:"
                " the history was rewritten (a fork)", position=trusted.size - 1)
    tree = CompactRange()
    previous_checkpoint = 0
    workers = (os.cpu_count() or 1) if workers is None else workers
    for part, leaves, failure in _checked(_chunks(db, end, chunk), workers):
        for offset in range(0, len(leaves), HASH_SIZE):
            tree.append(leaves[offset : offset + HASH_SIZE])
            if tree.size in roots:
                if tree.root() != roots[tree.size] and tree.size not in stored:
                    raise IntegrityFailure(
                        f"the first {tree.size} events do not give the root of the trusted checkpoint:"
                        " the store does not extend it (a different history)", position=tree.size - 1)
                if tree.root() != roots[tree.size]:
                    _locate_replaced(db, conn, previous_checkpoint, tree.size)
                    raise IntegrityFailure(
                        f"the events before position {tree.size} do not give the root signed in the checkpoint of size {tree.size},"
                        " and the stored tree was rewritten to match them: events were replaced and the chain recomputed",
                        position=tree.size - 1)
                previous_checkpoint = tree.size
        if failure is not None:
            raise IntegrityFailure(failure.pop("message"), **failure)
        if progress is not None:
            progress(part.hi, end)
    if checkpoints[-1].size > tree.size:
        raise IntegrityFailure(
            f"the checkpoint of size {checkpoints[-1].size} covers more events than the {tree.size} stored: the tail was truncated",
            position=tree.size)
    _check_stored_tree(db, conn, checkpoints, samples)
    if trusted is not None:
        _check_extends(db, conn, trusted, checkpoints[-1])
    if progress is not None:
        progress(end, end)
    return VerifyReport(tree.size, len(checkpoints), checkpoints[-1].size, checkpoints[-1], trusted)


def _check_signed_and_long_enough(checkpoints: list[Checkpoint], events: int, trusted: Checkpoint | None) -> None:
    """Before any hashing: there must be something signed, and nothing shorter than what the caller already holds."""
    if trusted is not None and events < trusted.size:
        raise IntegrityFailure(
            f"the store holds {events} events, fewer than the {trusted.size} of the trusted checkpoint: events were removed",
            position=events)
    if trusted is not None and (not checkpoints or checkpoints[-1].size < trusted.size):
        latest = checkpoints[-1].size if checkpoints else 0
        raise IntegrityFailure(
            f"the store's latest checkpoint covers {latest} events, fewer than the {trusted.size} of the trusted checkpoint:"
            " checkpoints were removed", position=latest)
    if not checkpoints:
        what = "the store is empty" if events == 0 else f"none of its {events} events is sealed"
        raise NothingSigned(f"no signed checkpoint to verify against: {what}; run the sealer (`govledger seal --once`)")


def _check_extends(db: Database, conn: Any, trusted: Checkpoint, latest: Checkpoint) -> None:
    """The stored tree proves the latest checkpoint an append-only extension of the trusted one."""
    try:
        proof = stored_consistency_proof(db, conn, trusted.size, latest.size) if trusted.size < latest.size else []
        verify_consistency(trusted.size, latest.size, proof, trusted.root, latest.root)
    except LedgerToolsError as e:
        raise IntegrityFailure(f"the store does not extend the trusted checkpoint of size {trusted.size}: {e}",
                               position=trusted.size - 1) from None
    finally:
        conn.rollback()


def _locate_replaced(db: Database, conn: Any, lo: int, hi: int) -> None:
    """Name the first event in positions [lo, hi) whose leaf differs from the leaf the sealer stored for it."""
    p = db.param()
    sealed = dict(conn.execute(f"SELECT idx, hash FROM ledger_tree_nodes WHERE level = 0 AND idx >= {p} AND idx < {p}", (lo, hi)))
    canonical = canonical_id(db)
    rows = conn.execute(event_query(db, f"WHERE {db.nid_column} > {p} AND {db.nid_column} <= {p}"), (lo, hi)).fetchall()
    ids = [canonical(row[1]) for row in rows]
    leaves = chain_events(GENESIS, ((oid, row[2], row[3], bytes(row[4])) for oid, row in zip(ids, rows)))
    for row, oid, (leaf, _) in zip(rows, ids, leaves):
        position = row[0] - 1
        if leaf != bytes(sealed.get(position, b"")):
            raise IntegrityFailure(
                f"event differs from the leaf sealed for it at position {position}: it was replaced and the chain recomputed",
                position=position, notification_id=row[0], aggregate=oid, version=row[2])


def _check_stored_tree(db: Database, conn: Any, checkpoints: list[Checkpoint], samples: int) -> None:
    """The stored tree must prove what the checkpoints sign: consistency between each pair, inclusion for a sample."""
    p = db.param()
    try:
        for older, newer in zip(checkpoints, checkpoints[1:]):
            proof = stored_consistency_proof(db, conn, older.size, newer.size)
            verify_consistency(older.size, newer.size, proof, older.root, newer.root)
        if not checkpoints:
            return
        latest = checkpoints[-1]
        rng = random.Random()
        picks = sorted({0, latest.size - 1} | {rng.randrange(latest.size) for _ in range(samples)})
        leaves = dict(conn.execute(
            f"SELECT {db.nid_column} - 1, leaf_hash FROM ledger_events WHERE {db.nid_column} IN ({','.join([p] * len(picks))})",
            [i + 1 for i in picks]).fetchall())
        for i in picks:
            if i not in leaves:
                raise IntegrityFailure("a sampled sealed event is missing", position=i)
            verify_inclusion(i, latest.size, bytes(leaves[i]), stored_inclusion_proof(db, conn, i, latest.size), latest.root)
    except LedgerToolsError as e:
        raise IntegrityFailure(f"the stored Merkle tree does not prove the signed checkpoints: {e}") from None
