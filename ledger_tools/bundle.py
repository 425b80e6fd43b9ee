"""Offline verification of a govledger bundle (docs/ledger-format.md §9): a directory, .tar.gz or .zip.

`verify_bundle` checks every file hash, the signed checkpoint, each event's leaf against its stored
bytes, each event's inclusion proof, the chain links between consecutive events, and an optional
consistency proof from a checkpoint the regulator already holds. It raises BundleError naming the
file, event or proof that is wrong, and fails closed on anything missing, extra, empty or malformed.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import json
import tarfile
import zipfile
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


def _records(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file, parsed in one call (each line is one compact object)."""
    try:
        text = files[name].decode("utf-8", "strict").strip()
        records = json.loads("[" + text.replace("\n", ",") + "]") if text else []
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(f"{name} is not one JSON object per line") from None
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise BundleError(f"{name} line {number} is not a JSON object")
    return records


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
    # Hundreds of thousands of parsed records and no reference cycles: the cyclic collector would
    # only rescan them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(path, trusted_key)
    finally:
        if enabled:
            gc.enable()


def _verify(path: str | Path, trusted_key: str | None) -> BundleReport:
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
    proofs: dict[int, str] = {}
    for number, record in enumerate(_records(files, "proofs.jsonl"), start=1):
        position, path = record.get("position"), record.get("path")
        if not isinstance(position, int) or position in proofs or not isinstance(path, str):
            raise BundleError(f"proofs.jsonl line {number} is malformed or repeats position {position}")
        proofs[position] = path
    events = _records(files, "events.jsonl")
    if not events:
        raise BundleError("events.jsonl holds no events: an empty bundle proves nothing")
    if len(events) != manifest.get("events"):
        raise BundleError(f"events.jsonl holds {len(events)} events, manifest.json says {manifest.get('events')}")
    walker = _ProofWalker(checkpoint.size, checkpoint.root)
    start_link = manifest.get("previous_chain_hash")
    previous: tuple[int, bytes] | None = None
    last = -1
    b64 = binascii.a2b_base64
    for number, event in enumerate(events, start=1):
        position = event.get("position")
        if not isinstance(position, int) or not 0 <= position < checkpoint.size or position <= last:
            raise BundleError(f"events.jsonl line {number}: position {position!r} is out of order or outside the checkpoint")
        try:
            leaf = event_leaf_hash(event["originator_id"], event["originator_version"], event["topic"],
                                   b64(event["state"], strict_mode=True))
            stored_leaf, chained = bytes.fromhex(event["leaf_hash"]), bytes.fromhex(event["chain_hash"])
            path = b64(proofs.pop(position), strict_mode=True)
        except KeyError as e:
            problem = "proofs.jsonl has no inclusion proof for it" if e.args == (position,) else f"it lacks {e}"
            raise BundleError(f"{_where(event)}: {problem}") from None
        except (TypeError, ValueError, binascii.Error, LedgerToolsError, AttributeError):
            raise BundleError(f"{_where(event)}: malformed (a field is missing or not of its type)") from None
        if leaf != stored_leaf:
            raise BundleError(f"{_where(event)}: its bytes do not match its leaf hash: the event was altered")
        if len(chained) != HASH_SIZE or len(path) % HASH_SIZE:
            raise BundleError(f"{_where(event)}: its chain hash or inclusion proof has the wrong length")
        link = previous[1] if previous and previous[0] == position - 1 else (
            _hex(start_link, "previous_chain_hash") if start_link and number == 1 else None)
        if link is not None and _sha256(link + leaf).digest() != chained:
            raise BundleError(f"{_where(event)}: its chain hash does not follow from position {position - 1}")
        if not walker.leads_to_root(position, leaf, path):
            raise BundleError(f"{_where(event)}: its inclusion proof does not lead to the checkpoint's root")
        previous = (position, chained)
        last = position
    if proofs:
        raise BundleError(f"proofs.jsonl holds proofs for positions with no event: {sorted(proofs)[:5]}")
    return events[0]["position"], last, len(events)


def _where(event: dict[str, Any]) -> str:
    return (f"event at position {event.get('position')} (aggregate {event.get('originator_id')} "
            f"version {event.get('originator_version')})")


class _ProofWalker:
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
