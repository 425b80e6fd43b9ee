"""Offline verification of a govledger bundle (docs/ledger-format.md §9): a directory, .tar.gz or .zip.

`verify_bundle` checks every file hash, the signed checkpoint, each event's leaf against its stored
bytes, each event's inclusion proof, the chain links between consecutive events, and an optional
consistency proof from a checkpoint the regulator already holds. It raises BundleError naming the
file, event or proof that is wrong, and fails closed on anything missing, extra, empty or malformed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chain import event_leaf_hash
from .checkpoint import Checkpoint, open_checkpoint
from .errors import LedgerToolsError, MalformedInputError, VerificationError
from .merkle import HASH_SIZE, verify_consistency
from .note import Verifier

__all__ = ["FORMAT", "BundleError", "BundleReport", "read_bundle", "verify_bundle"]

FORMAT = "govledger-bundle/1"
REQUIRED = ("manifest.json", "checkpoint.note", "verifier.vkey", "events.jsonl", "proofs.jsonl")
OPTIONAL = ("consistency.json",)
_sha256 = hashlib.sha256


class BundleError(VerificationError):
    """The bundle does not verify; the message names the file, event or proof."""


@dataclass(frozen=True)
class BundleReport:
    origin: str
    tree_size: int
    events: int
    first_position: int
    last_position: int
    key: str
    key_pinned: bool
    consistent_from: int | None


def read_bundle(path: str | Path) -> dict[str, bytes]:
    """The files of a bundle as bytes: from a directory, a .tar.gz or a .zip (never extracted to disk)."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"bundle {path} does not exist")
    try:
        if path.is_dir():
            return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
        if path.name.endswith((".tar.gz", ".tgz")):
            files = {}
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        extracted = tar.extractfile(member)
                        assert extracted is not None
                        files[Path(member.name).name] = extracted.read()
            return files
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                return {Path(n).name: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise BundleError(f"cannot read bundle {path}: {type(e).__name__}: {e}") from None
    raise BundleError(f"bundle {path} is neither a directory, a .tar.gz nor a .zip")


def _hex(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise BundleError(f"{what} is not hex") from None
    if len(raw) != HASH_SIZE:
        raise BundleError(f"{what} is {len(raw)} bytes, not {HASH_SIZE}")
    return raw


def _lines(files: dict[str, bytes], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(files[name].decode("utf-8", "strict").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise BundleError(f"{name} line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise BundleError(f"{name} line {number} is not a JSON object")
        yield number, record


def _manifest(files: dict[str, bytes]) -> dict[str, Any]:
    missing = [n for n in REQUIRED if n not in files]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}")
    extra = sorted(set(files) - set(REQUIRED) - set(OPTIONAL))
    if extra:
        raise BundleError(f"the bundle holds unexpected files: {', '.join(extra)}")
    try:
        manifest = json.loads(files["manifest.json"])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleError("manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json is not a {FORMAT} manifest")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or set(listed) != set(files) - {"manifest.json"}:
        raise BundleError("manifest.json does not list exactly the bundle's files")
    for name, digest in sorted(listed.items()):
        if _sha256(files[name]).digest() != _hex(digest, f"manifest hash of {name}"):
            raise BundleError(f"{name} does not match its SHA-256 in manifest.json: the file was altered")
    return manifest


def verify_bundle(path: str | Path, trusted_key: str | None = None) -> BundleReport:
    """Verify everything in the bundle; return what was proved, or raise BundleError at the first failure."""
    files = read_bundle(path)
    manifest = _manifest(files)
    try:
        verifier = Verifier.parse(files["verifier.vkey"].decode())
        pinned = Verifier.parse(trusted_key) if trusted_key else None
    except (MalformedInputError, UnicodeDecodeError) as e:
        raise BundleError(f"verifier.vkey or the trusted key is malformed: {e}") from None
    if pinned is not None and pinned != verifier:
        raise BundleError(f"the bundle is signed by {verifier.name}+{verifier.id.hex()}, not the trusted key "
                          f"{pinned.name}+{pinned.id.hex()}")
    try:
        checkpoint = open_checkpoint(files["checkpoint.note"].decode(), pinned or verifier)
    except (LedgerToolsError, UnicodeDecodeError) as e:
        raise BundleError(f"checkpoint.note is not validly signed: {e}") from None
    if checkpoint.origin != manifest.get("origin") or checkpoint.size != manifest.get("tree_size"):
        raise BundleError("checkpoint.note does not match the origin and tree size in manifest.json")
    first, last, count = _verify_events(files, manifest, checkpoint)
    consistent_from = _verify_consistency(files, pinned or verifier, checkpoint) if "consistency.json" in files else None
    return BundleReport(checkpoint.origin, checkpoint.size, count, first, last, str(verifier), pinned is not None, consistent_from)


def _verify_events(files: dict[str, bytes], manifest: dict[str, Any], checkpoint: Checkpoint) -> tuple[int, int, int]:
    proofs = {}
    for number, record in _lines(files, "proofs.jsonl"):
        position = record.get("position")
        if not isinstance(position, int) or position in proofs or not isinstance(record.get("path"), list):
            raise BundleError(f"proofs.jsonl line {number} is malformed or repeats position {position}")
        proofs[position] = [_hex(h, f"proof of position {position}, hash {i}") for i, h in enumerate(record["path"])]
    parents: dict[bytes, bytes] = {}  # consecutive proofs share most of their path: hash each pair once
    previous: tuple[int, bytes] | None = None
    start_link = manifest.get("previous_chain_hash")
    count, first, last = 0, -1, -1
    for number, event in _lines(files, "events.jsonl"):
        position = event.get("position")
        if not isinstance(position, int) or not 0 <= position < checkpoint.size or position <= last:
            raise BundleError(f"events.jsonl line {number}: position {position!r} is out of order or outside the checkpoint")
        try:
            state = base64.b64decode(event["state"], validate=True)
            leaf = event_leaf_hash(event["originator_id"], event["originator_version"], event["topic"], state)
        except (KeyError, TypeError, binascii.Error, LedgerToolsError, AttributeError):
            raise BundleError(f"event at position {position} is malformed") from None
        where = f"event at position {position} (aggregate {event['originator_id']} version {event['originator_version']})"
        if leaf != _hex(event.get("leaf_hash"), f"leaf hash of position {position}"):
            raise BundleError(f"{where}: its bytes do not match its leaf hash: the event was altered")
        chained = _hex(event.get("chain_hash"), f"chain hash of position {position}")
        link = previous[1] if previous and previous[0] == position - 1 else (
            _hex(start_link, "previous_chain_hash") if start_link and count == 0 else None)
        if link is not None and _sha256(link + leaf).digest() != chained:
            raise BundleError(f"{where}: its chain hash does not follow from position {position - 1}")
        if position not in proofs:
            raise BundleError(f"{where}: proofs.jsonl has no inclusion proof for it")
        if _root(position, checkpoint.size, leaf, proofs.pop(position), parents) != checkpoint.root:
            raise BundleError(f"{where}: its inclusion proof does not lead to the checkpoint's root")
        previous = (position, chained)
        first = position if count == 0 else first
        last = position
        count += 1
    if count == 0:
        raise BundleError("events.jsonl holds no events: an empty bundle proves nothing")
    if count != manifest.get("events"):
        raise BundleError(f"events.jsonl holds {count} events, manifest.json says {manifest.get('events')}")
    if proofs:
        raise BundleError(f"proofs.jsonl holds proofs for positions with no event: {sorted(proofs)[:5]}")
    return first, last, count


def _root(index: int, size: int, leaf: bytes, path: list[bytes], parents: dict[bytes, bytes]) -> bytes:
    """RFC 9162 §2.1.3.2, with each parent hash memoised: equal to merkle.root_from_inclusion_proof."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return b""
        if fn & 1 or fn == sn:
            pair = p + r
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            pair = r + p
        r = parents.get(pair) or parents.setdefault(pair, _sha256(b"\x01" + pair).digest())
        if len(parents) > 200_000:  # bounded: neighbouring proofs share paths, distant ones rarely do
            parents.clear()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else b""


def _verify_consistency(files: dict[str, bytes], verifier: Verifier, checkpoint: Checkpoint) -> int:
    try:
        data = json.loads(files["consistency.json"])
        old = open_checkpoint(data["old_checkpoint"], verifier, origin=checkpoint.origin)
        proof = [_hex(h, "consistency proof hash") for h in data["proof"]]
        verify_consistency(old.size, checkpoint.size, proof, old.root, checkpoint.root)
    except BundleError:
        raise
    except (LedgerToolsError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"consistency.json does not prove the checkpoint extends the one you hold: {e}") from None
    return old.size
