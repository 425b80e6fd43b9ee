"""Export a verifiable slice of the ledger as a bundle (docs/ledger-format.md, "Bundles") for offline verification.

A bundle is written complete or not at all: it is assembled in a temporary directory beside the
destination and moved into place (or archived) only once every file is written. Its manifest's
selection says what the bundle must hold, so the verifier can prove it complete: every position of
a range, or every version from 1 of each aggregate of a slice.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger_tools.bundle import FORMAT
from ledger_tools.checkpoint import open_checkpoint
from ledger_tools.errors import LedgerToolsError
from ledger_tools.note import Verifier

from .database import Database
from .errors import InvalidArgument
from .s3 import S3Location, upload_new
from .tree import stored_consistency_proof, stored_inclusions
from .verify import canonical_id, event_query


@dataclass(frozen=True)
class Selection:
    """Which events go into the bundle: their positions, and how they were chosen (the manifest's `selection`)."""

    kind: str
    params: dict[str, Any]
    positions: list[int] = field(default_factory=list)


def _range(kind: str, params: dict[str, Any], first: int, last: int) -> Selection:
    return Selection(kind, {**params, "first_position": first, "last_position": last}, list(range(first, last + 1)))


def by_positions(db: Database, conn: Any, start: int, end: int) -> Selection:
    if start < 0 or end < start:
        raise InvalidArgument(f"position range [{start}, {end}] is empty or negative")
    top = db.events(conn)
    if start >= top:
        raise InvalidArgument(f"position {start} is beyond the end of the ledger ({top} events)")
    return _range("positions", {}, start, min(end, top - 1))


def by_time(db: Database, conn: Any, mapper: Any, start: datetime, end: datetime) -> Selection:
    """Every position from the first to the last event whose own timestamp is in [start, end).

    The bundle is the whole range between them, so it proves itself complete; an event in between
    whose clock reads outside the window is included rather than left as a gap.
    """
    from eventsourcing.persistence import StoredEvent

    if end <= start:
        raise InvalidArgument(f"the time range {start.isoformat()} to {end.isoformat()} is empty")
    canonical = canonical_id(db)
    positions = []
    for nid, oid, version, topic, state, _, _ in conn.execute(event_query(db)):
        stamp = mapper.to_domain_event(StoredEvent(UUID(canonical(oid)), version, topic, bytes(state))).timestamp
        if start <= stamp < end:
            positions.append(nid - 1)
    if not positions:
        raise InvalidArgument(f"no event between {start.isoformat()} and {end.isoformat()}")
    return _range("time", {"from": start.isoformat(), "to": end.isoformat()}, positions[0], positions[-1])


def by_aggregates(db: Database, conn: Any, kind: str, params: dict[str, Any], ids: list[UUID]) -> Selection:
    """Every event of these aggregates; the manifest names those that have any, which the bundle must hold from version 1."""
    p = db.param()
    values = [i.hex if db.is_sqlite else i for i in ids]
    rows = conn.execute(f"SELECT {db.nid_column} - 1, originator_id FROM ledger_events "
                        f"WHERE originator_id IN ({','.join([p] * len(ids))}) ORDER BY {db.nid_column}", values).fetchall()
    canonical = canonical_id(db)
    present = sorted({canonical(oid) for _, oid in rows})
    return Selection(kind, {**params, "aggregates": present}, [r[0] for r in rows])


def export_bundle(db: Database, conn: Any, verifier: Verifier, selection: Selection, out: Path | S3Location,
                  since_checkpoint: str | None = None, s3: Any = None) -> dict[str, Any]:
    """Write the bundle to `out` (a new directory, a .tar.gz / .zip file, or an S3 object through `s3`); return its manifest."""
    if not selection.positions:
        raise InvalidArgument(f"the selection {selection.kind} {selection.params} holds no events")
    if isinstance(out, Path) and out.exists():
        raise InvalidArgument(f"{out} already exists; a bundle is never written over anything")
    row = conn.execute("SELECT tree_size, note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()
    if row is None or row[0] <= selection.positions[-1]:
        raise InvalidArgument(f"position {selection.positions[-1]} is not sealed yet; run the sealer and export again")
    size, note = int(row[0]), row[1]
    checkpoint = open_checkpoint(note, verifier)
    files = {"checkpoint.note": note.encode(), "verifier.vkey": (str(verifier) + "\n").encode(),
             "events.jsonl": _events(db, conn, selection.positions),
             "proofs.jsonl": b"".join(json.dumps({"position": p, "path": base64.b64encode(b"".join(path)).decode()}).encode() + b"\n"
                                      for p, _, path in stored_inclusions(db, conn, selection.positions, size))}
    if since_checkpoint is not None:
        files["consistency.json"] = _consistency(db, conn, verifier, since_checkpoint, checkpoint.size)
    manifest = {"format": FORMAT, "origin": checkpoint.origin, "tree_size": size, "events": len(selection.positions),
                "selection": {"kind": selection.kind, **selection.params}, "created_at": datetime.now(UTC).isoformat(),
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}}
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    if isinstance(out, S3Location):
        with tempfile.TemporaryDirectory(prefix="govledger-bundle-") as tmp:
            archive = Path(tmp) / out.name
            _write(files, archive)
            upload_new(s3, out, archive)
    else:
        _write(files, out)
    return manifest


def _events(db: Database, conn: Any, positions: list[int]) -> bytes:
    canonical = canonical_id(db)
    out = io.BytesIO()
    p = db.param()
    for start in range(0, len(positions), 5_000):
        chunk = positions[start : start + 5_000]
        where = f"WHERE {db.nid_column} IN ({','.join([p] * len(chunk))})"
        for nid, oid, version, topic, state, leaf, chained in conn.execute(event_query(db, where), [q + 1 for q in chunk]):
            out.write(json.dumps({"position": nid - 1, "originator_id": canonical(oid), "originator_version": version,
                                  "topic": topic, "state": base64.b64encode(bytes(state)).decode(),
                                  "leaf_hash": bytes(leaf).hex(), "chain_hash": bytes(chained).hex()}).encode() + b"\n")
    return out.getvalue()


def _consistency(db: Database, conn: Any, verifier: Verifier, old_note: str, size: int) -> bytes:
    try:
        old = open_checkpoint(old_note, verifier)
    except LedgerToolsError as e:
        raise InvalidArgument(f"the checkpoint you hold does not verify with this ledger's key: {e}") from None
    if not 0 < old.size <= size:
        raise InvalidArgument(f"the checkpoint you hold (size {old.size}) is not older than the latest ({size})")
    proof = stored_consistency_proof(db, conn, old.size, size)
    return json.dumps({"old_size": old.size, "proof": [h.hex() for h in proof]}, indent=2).encode()


def _write(files: dict[str, bytes], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".bundle-") as tmp:
        staged = Path(tmp) / "bundle"
        if out.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(staged, "w:gz") as tar:
                for name, data in sorted(files.items()):
                    info = tarfile.TarInfo(f"bundle/{name}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tar.addfile(info, io.BytesIO(data))
        elif out.name.endswith(".zip"):
            with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in sorted(files.items()):
                    archive.writestr(f"bundle/{name}", data)
        else:
            staged.mkdir()
            for name, data in files.items():
                (staged / name).write_bytes(data)
        shutil.move(str(staged), str(out))
