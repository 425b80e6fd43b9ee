"""A govledger bundle built from the format page alone, with ledger_tools' primitives: no database, no service."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from ledger_tools import Checkpoint, Signer, inclusion_proof, root_from_leaf_hashes, sign_checkpoint
from ledger_tools.bundle import FORMAT
from ledger_tools.chain import GENESIS, chain_events

SIGNER = Signer("example.govledger/ledger", bytes(range(32)))
TOPIC = "domain.datasets:Dataset.Registered"


def event(i: int) -> tuple[str, int, str, bytes]:
    return f"6b5b2325-3906-44e4-a203-{i:012d}", 1, TOPIC, b'{"i":%d}' % i  # 7+ bytes: base64 with padding


def bundle_files(size: int = 6, first: int = 1, last: int = 4, signer: Signer = SIGNER) -> dict[str, bytes]:
    """The files of a range bundle of positions first..last in a ledger of `size` events, each as the exporter writes it."""
    events = [event(i) for i in range(size)]
    hashes = chain_events(GENESIS, events)
    leaves = [leaf for leaf, _ in hashes]
    root = root_from_leaf_hashes(leaves)
    files = {
        "checkpoint.note": sign_checkpoint(Checkpoint(signer.name, size, root), signer).encode(),
        "verifier.vkey": f"{signer.verifier}\n".encode(),
        "events.jsonl": b"".join(
            json.dumps({"position": p, "originator_id": events[p][0], "originator_version": events[p][1],
                        "topic": events[p][2], "state": base64.b64encode(events[p][3]).decode(),
                        "leaf_hash": hashes[p][0].hex(), "chain_hash": hashes[p][1].hex()}).encode() + b"\n"
            for p in range(first, last + 1)),
        "proofs.jsonl": b"".join(
            json.dumps({"position": p, "path": base64.b64encode(b"".join(
                inclusion_proof(p, size, lambda a, b: root_from_leaf_hashes(leaves[a:b])))).decode()}).encode() + b"\n"
            for p in range(first, last + 1)),
    }
    return with_manifest(files, {"format": FORMAT, "origin": signer.name, "tree_size": size, "events": last - first + 1,
                                 "selection": {"kind": "positions", "first_position": first, "last_position": last},
                                 "created_at": "2026-11-22T12:00:00+00:00"})


def with_manifest(files: dict[str, bytes], manifest: dict[str, object]) -> dict[str, bytes]:
    """`files` with a manifest.json listing their SHA-256s, as a careful forger would rewrite it."""
    others = {name: data for name, data in files.items() if name != "manifest.json"}
    listed = {**manifest, "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(others.items())}}
    return {**others, "manifest.json": json.dumps(listed, indent=2, sort_keys=True).encode() + b"\n"}


def manifest_of(files: dict[str, bytes]) -> dict[str, object]:
    manifest = json.loads(files["manifest.json"])
    del manifest["files"]
    return manifest  # type: ignore[no-any-return]


def write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory
