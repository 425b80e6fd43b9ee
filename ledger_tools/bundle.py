"""Offline verification of a govledger bundle (docs/ledger-format.md, "Bundles"): a directory, .tar.gz or .zip.

`verify_bundle` needs the ledger's key pinned by the caller. It checks every file against the
manifest, the checkpoint's signature and that its origin is the key's name, each event's leaf
against its stored bytes, each event's RFC 9162 inclusion proof against the signed root, and then
completeness: a range bundle must hold every position of its range, a model or subject slice every
version of each aggregate from 1 on, with no gap. Consistency is judged only against a checkpoint
the caller holds. It returns what was proven, or raises BundleError naming the file, event or proof
that is wrong; every encoding is checked strictly (canonical base64, lowercase hex, JSON integers).
"""

from __future__ import annotations

import gc
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .archive import MAX_BUNDLE_BYTES, BundleError, read_bundle
from .chain import GENESIS, event_leaf_hash
from .checkpoint import Checkpoint, open_checkpoint
from .errors import LedgerToolsError, MalformedInputError
from .merkle import HASH_SIZE, verify_consistency
from .note import Verifier, b64decode_canonical
from .proofwalk import ProofWalker

__all__ = ["FORMAT", "MAX_BUNDLE_BYTES", "BundleError", "BundleReport", "read_bundle", "verify_bundle"]

FORMAT = "govledger-bundle/2"
REQUIRED = ("manifest.json", "checkpoint.note", "verifier.vkey", "events.jsonl", "proofs.jsonl")
MANIFEST_KEYS = frozenset({"format", "origin", "tree_size", "events", "selection", "created_at", "files"})
EVENT_KEYS = frozenset({"position", "originator_id", "originator_version", "topic", "state", "leaf_hash", "chain_hash"})
SELECTION_KEYS = {
    "positions": frozenset({"kind", "first_position", "last_position"}),
    "time": frozenset({"kind", "from", "to", "first_position", "last_position"}),
    "model": frozenset({"kind", "model", "aggregates"}),
    "subject": frozenset({"kind", "subject", "aggregates"}),
}
RANGE_KINDS = ("positions", "time")
# The files parsed whole before the signed tree size is known. A manifest lists a slice's aggregates
# (a model and its versions, a user and their keys): 16 MiB is some 400,000 of them.
SMALL_FILES = {"manifest.json": 16 << 20, "checkpoint.note": 64 << 10, "verifier.vkey": 4 << 10,
               "consistency.json": 64 << 10}
_U63 = (1 << 63) - 1
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class BundleReport:
    """What a bundle proved. `versions` (slices only): each aggregate and its last version, all present from 1."""

    origin: str
    tree_size: int
    key: str
    key_pinned: bool
    kind: str
    chosen_by: str
    events: int
    first_position: int
    last_position: int
    versions: tuple[tuple[str, int], ...]
    held_size: int | None
    offered_consistency_from: int | None

    def verdict(self) -> list[str]:
        """The verdict, one line per claim: OK (proven), NOT PROVEN, NOT CHECKED, UNTRUSTED."""
        lines = []
        if not self.key_pinned:
            lines.append("UNTRUSTED: no key was pinned (--insecure-trust-bundle-key): the bundle was checked against "
                         "the key it carries, so nothing below is trusted; it shows only that the bundle agrees with itself")
        signed = f"the tree of {self.tree_size} leaves of {self.origin!r}, signed by {self.key}"
        if self.kind in RANGE_KINDS:
            lines.append(f"OK: {self.events} events: every position from {self.first_position} to {self.last_position}, "
                         f"none missing, each proven by its inclusion proof in {signed}")
            if self.kind == "time":
                lines.append(f"NOT PROVEN: that these positions are exactly the events {self.chosen_by}: the times are "
                             "the exporter's choice; the positions are what is proven")
        else:
            lines.append(f"OK: {self.events} events of {len(self.versions)} aggregates ({self.chosen_by}), each proven "
                         f"by its inclusion proof in {signed}")
            lines.extend(f"OK: aggregate {aggregate}: versions 1 to {last}, none missing" for aggregate, last in self.versions)
            if len(self.versions) > 1:
                lines.append(f"NOT PROVEN: that the aggregates other than {self.chosen_by.partition(' ')[2]} itself concern "
                             f"it: the exporter chose them (their events' payloads say what they are about)")
            lines.append("NOT PROVEN: that the slice is whole: events after each aggregate's last version shown, and "
                         "other aggregates, may have been left out (only a range bundle proves it holds everything)")
        if self.held_size is not None:
            lines.append(f"OK: that tree extends the checkpoint of size {self.held_size} you hold")
        elif self.offered_consistency_from is not None:
            lines.append(f"NOT CHECKED: the bundle carries a consistency proof from tree size {self.offered_consistency_from}; "
                         "pass --held-checkpoint with the checkpoint you hold to check it")
        return lines


def verify_bundle(path: str | Path, trusted_key: str | None, *, held_checkpoint: str | None = None,
                  trust_bundle_key: bool = False, max_bytes: int = MAX_BUNDLE_BYTES) -> BundleReport:
    """Verify everything in the bundle against the pinned verifier key `trusted_key`; return what was proven.

    `trusted_key` may be None only with `trust_bundle_key=True`, which checks the bundle against the key
    it carries and proves nothing about who signed it. `held_checkpoint` is a signed checkpoint note the
    caller already holds: the bundle's checkpoint must extend it. Raises BundleError at the first failure,
    MalformedInputError for unusable arguments.
    """
    if trusted_key is None and not trust_bundle_key:
        raise MalformedInputError("a pinned key is required: pass the ledger's verifier key you were given")
    pinned = Verifier.parse(trusted_key) if trusted_key is not None else None
    # Hundreds of thousands of parsed records and no reference cycles: the cyclic collector would
    # only rescan them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(read_bundle(path, max_bytes), pinned, held_checkpoint)
    finally:
        if enabled:
            gc.enable()


def _verify(files: dict[str, bytes], pinned: Verifier | None, held_note: str | None) -> BundleReport:
    manifest = _manifest(files)
    key = _bundle_key(files["verifier.vkey"])
    if pinned is not None and pinned != key:
        raise BundleError(f"the bundle is signed by {key.name}+{key.id.hex()}, not the trusted key "
                          f"{pinned.name}+{pinned.id.hex()}")
    checkpoint = _checkpoint(files["checkpoint.note"], key, "checkpoint.note")
    if checkpoint.origin != manifest["origin"] or checkpoint.size != manifest["tree_size"]:
        raise BundleError("checkpoint.note does not match the origin and tree size in manifest.json")
    kind, chosen_by, bounds = _selection(manifest["selection"], checkpoint.size)
    # Counted before anything is parsed: a few megabytes of .tar.gz inflate to millions of repeated
    # lines, each parsed into objects many times its size; the signed tree bounds how many there can be.
    for name in ("events.jsonl", "proofs.jsonl"):
        lines = files[name].count(b"\n")
        if lines > checkpoint.size:
            raise BundleError(f"{name} holds {lines} lines, more than the {checkpoint.size} events of the signed tree")
    events = _records(files, "events.jsonl")
    proofs = _records(files, "proofs.jsonl")
    if not events:
        raise BundleError("events.jsonl holds no events: an empty bundle proves nothing")
    if len(events) != manifest["events"]:
        raise BundleError(f"events.jsonl holds {len(events)} events, manifest.json says {manifest['events']}")
    if len(proofs) != len(events):
        raise BundleError(f"proofs.jsonl holds {len(proofs)} lines for {len(events)} events: one proof per event, in order")
    if isinstance(bounds, tuple) and len(events) != bounds[1] - bounds[0] + 1:
        raise BundleError(f"the selection is positions {bounds[0]} to {bounds[1]}, but events.jsonl holds {len(events)} "
                          "events: positions are missing")
    versions = _check_events(events, proofs, checkpoint, bounds)
    held, offered = _consistency(files, key, checkpoint, held_note)
    return BundleReport(checkpoint.origin, checkpoint.size, str(key), pinned is not None, kind, chosen_by, len(events),
                        events[0]["position"], events[-1]["position"], versions, held, offered)


def _manifest(files: dict[str, bytes]) -> dict[str, Any]:
    missing = [n for n in REQUIRED if n not in files]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}")
    for name, limit in SMALL_FILES.items():  # parsed whole before anything bounds them: a bomb of tiny values
        if len(files.get(name, b"")) > limit:
            raise BundleError(f"{name} is larger than {limit} bytes: no bundle's {name} is that large")
    manifest = _json(files["manifest.json"], "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json is not a {FORMAT} manifest")
    if set(manifest) != MANIFEST_KEYS:
        raise BundleError(f"manifest.json must hold exactly the fields {', '.join(sorted(MANIFEST_KEYS))}")
    _text(manifest["origin"], "manifest origin")
    _text(manifest["created_at"], "manifest created_at")
    _integer(manifest["tree_size"], "manifest tree_size", 1)
    _integer(manifest["events"], "manifest events", 1)
    listed = manifest["files"]
    if not isinstance(listed, dict) or set(listed) != set(files) - {"manifest.json"}:
        raise BundleError("manifest.json does not list exactly the bundle's files")
    for name, digest in sorted(listed.items()):
        if _sha256(files[name]).digest() != _hash(digest, f"manifest hash of {name}"):
            raise BundleError(f"{name} does not match its SHA-256 in manifest.json: the file was altered")
    return manifest


def _selection(selection: Any, size: int) -> tuple[str, str, tuple[int, int] | frozenset[str]]:
    """(kind, how it was chosen, and what must be present: a position range or the set of aggregates)."""
    kind = selection.get("kind") if isinstance(selection, dict) else None
    if not isinstance(kind, str) or kind not in SELECTION_KEYS or set(selection) != SELECTION_KEYS[kind]:
        raise BundleError(f"manifest.json's selection is not one of {', '.join(SELECTION_KEYS)} with exactly its fields")
    if kind in RANGE_KINDS:
        first = _integer(selection["first_position"], "selection first_position", 0)
        last = _integer(selection["last_position"], "selection last_position", first, size - 1)
        if kind == "positions":
            chosen_by = f"positions {first} to {last}"
        else:  # quoted in the verdict: a moment, not free text that could read as a verdict of its own
            start, end = _moment(selection["from"], "selection from"), _moment(selection["to"], "selection to")
            if not start < end:
                raise BundleError("manifest.json's time selection does not run forward: 'from' must precede 'to'")
            chosen_by = f"from {selection['from']} to {selection['to']}"
        return kind, chosen_by, (first, last)
    aggregates = selection["aggregates"]
    if not isinstance(aggregates, list) or not aggregates or len(set(map(str, aggregates))) != len(aggregates):
        raise BundleError("manifest.json's selection aggregates must be a non-empty list of distinct ids")
    for aggregate in aggregates:
        _text(aggregate, "selection aggregate id")
    # The verdict names the model or subject: it must be the id of one of the aggregates the bundle
    # proves from version 1, or a slice of anything could be relabelled as the one that was asked for.
    named = _text(selection[kind], f"selection {kind}")
    if named not in aggregates:
        raise BundleError(f"manifest.json's selection names {kind} {named!r}, which is not one of its aggregates: "
                          f"the bundle does not hold that {kind}'s own events")
    return kind, f"{kind} {named}", frozenset(aggregates)


def _check_events(events: list[dict[str, Any]], proofs: list[dict[str, Any]], checkpoint: Checkpoint,
                  bounds: tuple[int, int] | frozenset[str]) -> tuple[tuple[str, int], ...]:
    """Each event's leaf and inclusion proof, and completeness; return each aggregate's last version (slices)."""
    walker = ProofWalker(checkpoint.size, checkpoint.root)
    expected = bounds[0] if isinstance(bounds, tuple) else None
    versions: dict[str, int] = {}
    previous_position, previous_chain = -1, GENESIS
    for number, (event, proof) in enumerate(zip(events, proofs), start=1):
        if event.keys() != EVENT_KEYS or proof.keys() != {"position", "path"}:
            raise BundleError(f"events.jsonl or proofs.jsonl line {number} does not hold exactly its fields")
        position = event["position"]
        if type(position) is not int or not previous_position < position < checkpoint.size:
            raise BundleError(f"events.jsonl line {number}: position {position!r} is out of order or outside the checkpoint")
        if expected is not None:
            if position != expected:
                raise BundleError(f"position {expected} is missing from events.jsonl: the range is incomplete")
            expected += 1
        if proof["position"] != position or type(proof["position"]) is not int:
            raise BundleError(f"proofs.jsonl line {number} is not the proof of position {position}: proofs follow the events")
        try:
            leaf = event_leaf_hash(event["originator_id"], event["originator_version"], event["topic"],
                                   b64decode_canonical(event["state"], "state"))
            path = b64decode_canonical(proof["path"], "inclusion proof")
        except LedgerToolsError as e:
            raise BundleError(f"{_where(event)}: malformed: {e}") from None
        stored_leaf, chained = _hex32(event["leaf_hash"]), _hex32(event["chain_hash"])
        if stored_leaf is None or chained is None:
            raise BundleError(f"{_where(event)}: its leaf_hash or chain_hash is not a 32-byte hash in lowercase hex")
        if leaf != stored_leaf:
            raise BundleError(f"{_where(event)}: its bytes do not match its leaf hash: the event was altered")
        if position == previous_position + 1 and _sha256(previous_chain + leaf).digest() != chained:
            raise BundleError(f"{_where(event)}: its chain hash does not follow from position {position - 1}")
        if len(path) % HASH_SIZE or not walker.leads_to_root(position, leaf, path):
            raise BundleError(f"{_where(event)}: its inclusion proof does not lead to the checkpoint's root")
        if expected is None:
            aggregate, version = event["originator_id"], event["originator_version"]
            if version != versions.get(aggregate, 0) + 1:
                raise BundleError(f"{_where(event)}: version {versions.get(aggregate, 0) + 1} of that aggregate is "
                                  "missing: the slice is incomplete")
            versions[aggregate] = version
        previous_position, previous_chain = position, chained
    if isinstance(bounds, frozenset) and versions.keys() != bounds:
        raise BundleError("events.jsonl does not hold events of exactly the aggregates manifest.json's selection names")
    return tuple(versions.items())


def _consistency(files: dict[str, bytes], key: Verifier, checkpoint: Checkpoint,
                 held_note: str | None) -> tuple[int | None, int | None]:
    """(size of the held checkpoint the bundle's tree extends, or None; size of an unchecked offered proof, or None)."""
    offered: tuple[int, list[bytes]] | None = None
    if "consistency.json" in files:
        data = _json(files["consistency.json"], "consistency.json")
        if not isinstance(data, dict) or data.keys() != {"old_size", "proof"} or not isinstance(data["proof"], list):
            raise BundleError('consistency.json must be {"old_size": integer, "proof": [hex, …]}')
        old_size = _integer(data["old_size"], "consistency.json old_size", 1, checkpoint.size)
        offered = (old_size, [_hash(h, "consistency proof hash") for h in data["proof"]])
    if held_note is None:
        return None, offered[0] if offered else None
    held = _checkpoint(held_note, key, "the checkpoint you hold")
    if held.size > checkpoint.size:
        raise BundleError(f"the bundle's checkpoint (size {checkpoint.size}) is older than the one you hold ({held.size})")
    if held.size < checkpoint.size and (offered is None or offered[0] != held.size):
        raise BundleError(f"the bundle carries no consistency proof from the size {held.size} you hold: "
                          "ask for a bundle exported with --since-checkpoint and that checkpoint")
    proof = offered[1] if offered is not None and offered[0] == held.size else []
    try:
        verify_consistency(held.size, checkpoint.size, proof, held.root, checkpoint.root)
    except LedgerToolsError as e:
        raise BundleError(f"the bundle's checkpoint does not extend the checkpoint you hold: {e}") from None
    return held.size, None


def _bundle_key(data: bytes) -> Verifier:
    try:
        text = data.decode("utf-8")
        key = Verifier.parse(text)
    except (UnicodeDecodeError, LedgerToolsError) as e:
        raise BundleError(f"verifier.vkey is malformed: {e}") from None
    if text != f"{key}\n":
        raise BundleError("verifier.vkey must be the key on one line, ending in a newline")
    return key


def _checkpoint(note: bytes | str, key: Verifier, what: str) -> Checkpoint:
    """A checkpoint signed by `key` whose origin is the key's name (govledger names its key after its log)."""
    try:
        return open_checkpoint(note.decode("utf-8") if isinstance(note, bytes) else note, key, origin=key.name)
    except (LedgerToolsError, UnicodeError) as e:
        raise BundleError(f"{what} is not a checkpoint of {key.name!r} validly signed by its key: {e}") from None


def _json(data: bytes, what: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(f"{what} is not strict JSON (UTF-8, no repeated keys, no NaN)") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("repeated key")
    return record


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _records(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file, one per line, each line ending in a newline (parsed in one call)."""
    data = files[name]
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise BundleError(f"{name} does not end in a newline")
    body = data[:-1]
    lines = body.count(b"\n") + 1
    # Every line is exactly one object: each newline sits between a `}` and a `{`, and stays in the
    # text parsed, so inside a string it is a raw control character that strict JSON refuses. With
    # every field a scalar (checked per event), no record can span two lines, nor two share one.
    if body[:1] != b"{" or body[-1:] != b"}" or body.count(b"}\n{") != lines - 1:
        raise BundleError(f"{name} is not one JSON object per line")
    records = _json(b"[" + body.replace(b"\n", b",\n") + b"]", name)
    if len(records) != lines or not all(type(r) is dict for r in records):
        raise BundleError(f"{name} is not one JSON object per line")
    return records  # type: ignore[no-any-return]


def _integer(value: Any, what: str, low: int = 0, high: int = _U63) -> int:
    if type(value) is not int or not low <= value <= high:
        raise BundleError(f"{what} must be a JSON integer from {low} to {high}, got {value!r}")
    return value


def _text(value: Any, what: str) -> str:
    """A non-empty printable string: the verdict quotes it, so no control, format or bidi character may reach a terminal."""
    if not isinstance(value, str) or not value or not value.isprintable():
        raise BundleError(f"{what} must be a non-empty string of printable characters")
    return value


def _moment(value: Any, what: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset, as the exporter writes it."""
    text = _text(value, what)
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 64 and text.isascii() else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BundleError(f"{what} must be an ISO 8601 date and time with its UTC offset, got {text[:64]!r}")
    return moment


def _hash(value: Any, what: str) -> bytes:
    raw = _hex32(value)
    if raw is None:
        raise BundleError(f"{what} is not a 32-byte hash in lowercase hex")
    return raw


def _hex32(value: Any) -> bytes | None:
    """A 32-byte hash from lowercase hex, the one spelling the format allows; None for anything else."""
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) and len(value) == 2 * HASH_SIZE else b""
    except ValueError:
        return None
    return raw if len(raw) == HASH_SIZE and raw.hex() == value else None


def _where(event: dict[str, Any]) -> str:
    return (f"event at position {event.get('position')!r} (aggregate {event.get('originator_id')!r} "
            f"version {event.get('originator_version')!r})")
