"""Prediction receipts a customer verifies offline (docs/ledger-format.md, "Receipts").

The service records each prediction as an event at a ledger position before it answers, and signs
a receipt with its own receipt key (never the log's key): a C2SP signed note whose body is

    govledger.receipt/v1
    <origin>
    position <decimal>
    leaf <the event's RFC 9162 leaf hash, 64 lowercase hex digits>
    time <RFC 3339 UTC with microseconds and 'Z'>
    request <request id>

Once the sealer has sealed that position, the service answers a proof in the C2SP tlog-proof text
format (https://c2sp.org/tlog-proof): the RFC 9162 inclusion proof of the leaf at index = position,
against a checkpoint signed by the log's key and cosigned by the receipt key (`cosign_checkpoint`).
A customer who trusts the receipt key alone can check all of it (`verify_receipt`); one who also
holds the log's key can require the log's own signature.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .checkpoint import Checkpoint, open_checkpoint
from .errors import MalformedInputError, ProofError, RootMismatchError, SignatureError, VerificationError
from .merkle import HASH_SIZE, verify_inclusion
from .note import Signer, Verifier, b64decode_canonical, check_text, note_text, open_note, sign_note

__all__ = [
    "RECEIPT_FORMAT", "PROOF_FORMAT", "MAX_TEXT", "Receipt", "Proof", "make_receipt", "open_receipt", "receipt_json",
    "parse_receipt_json", "make_proof", "parse_proof", "proof_json", "parse_proof_json", "cosign_checkpoint",
    "verify_receipt",
]

RECEIPT_FORMAT = "govledger.receipt/v1"
PROOF_FORMAT = "c2sp.org/tlog-proof@v1"
MAX_TEXT = 64 << 10  # characters of a receipt note or a proof: real ones are under 2 KiB
_MAX_JSON = 1 << 20  # a JSON wrapper may spell each character of its note as a 6-character escape
_MAX_INDEX = (1 << 64) - 1  # tlog positions and tree sizes are uint64
_MAX_HASHES = 64  # the longest inclusion proof there is, in a tree of 2^64 leaves
_DASH = "\u2014 "
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")  # ASCII digits only: \d would admit other scripts' digits
_LEAF = re.compile("[0-9a-f]{64}")
_TIME = re.compile("([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\\.([0-9]{6})Z")
_REQUEST = re.compile("[\x21-\x7e]{1,200}")
_RECEIPT_FIELDS = ("format", "position", "leaf_hash", "recorded_at", "request_id", "key", "note")
_PROOF_FIELDS = ("format", "proof")


@dataclass(frozen=True)
class Receipt:
    """What a receipt states: the event at `position` of the log `origin` has leaf hash `leaf_hash`."""

    origin: str
    position: int
    leaf_hash: bytes
    recorded_at: datetime  # timezone-aware, UTC once parsed
    request_id: str

    def text(self) -> str:
        """The receipt note's body: six lines, each ending in a newline."""
        if not isinstance(self.origin, str) or not isinstance(self.request_id, str) or type(self.position) is not int:
            raise MalformedInputError("a receipt needs a text origin and request id and an integer position")
        if not isinstance(self.leaf_hash, (bytes, bytearray)) or len(self.leaf_hash) != HASH_SIZE:
            raise MalformedInputError(f"a receipt's leaf hash must be {HASH_SIZE} bytes")
        return (f"{RECEIPT_FORMAT}\n{self.origin}\nposition {self.position}\nleaf {self.leaf_hash.hex()}\n"
                f"time {_format_time(self.recorded_at)}\nrequest {self.request_id}\n")

    @classmethod
    def parse(cls, text: str) -> Receipt:
        """Parse a receipt body strictly: exactly the six lines, each in its one spelling."""
        check_text(text, "the receipt")
        lines = text.split("\n")
        if len(lines) != 7 or lines[-1] != "":
            raise MalformedInputError("a receipt body is exactly six lines, each ending in a newline")
        if lines[0] != RECEIPT_FORMAT:
            raise MalformedInputError(f"a receipt's first line must be {RECEIPT_FORMAT!r}")
        origin = _origin(lines[1])
        position = _decimal(_field(lines[2], "position"), "receipt position")
        leaf = _field(lines[3], "leaf")
        if not _LEAF.fullmatch(leaf):
            raise MalformedInputError("a receipt's leaf hash must be 64 lowercase hex digits")
        request = _field(lines[5], "request")
        if not _REQUEST.fullmatch(request):
            raise MalformedInputError("a receipt's request id must be 1 to 200 printable ASCII characters, no spaces")
        return cls(origin, position, bytes.fromhex(leaf), _parse_time(_field(lines[4], "time")), request)


@dataclass(frozen=True)
class Proof:
    """A C2SP tlog-proof: the inclusion proof of the entry at `index` in the tree of the checkpoint note.

    `extra` is the spec's optional opaque data: unauthenticated, and govledger gives it no meaning.
    """

    index: int
    hashes: list[bytes]
    checkpoint_note: str
    extra: bytes = b""


def make_receipt(*, origin: str, position: int, leaf_hash: bytes, recorded_at: datetime, request_id: str,
                 signer: Signer) -> str:
    """The receipt as a signed note by the receipt key `signer`; `recorded_at` must be timezone-aware."""
    text = Receipt(origin, position, leaf_hash, recorded_at, request_id).text()
    Receipt.parse(text)  # sign only what a verifier will read back the same way
    return sign_note(text, signer)


def open_receipt(note: str, verifier: Verifier) -> Receipt:
    """The receipt in `note` if it carries a valid signature by `verifier`; raise otherwise."""
    _bounded(note, "the receipt", MAX_TEXT)
    return Receipt.parse(open_note(note, verifier))


def receipt_json(note: str, key: Verifier) -> str:
    """RECEIPT.json for a receipt note signed by `key`: its fields spelled out beside the note, which alone is trusted."""
    receipt = open_receipt(note, key)
    return json.dumps({"format": RECEIPT_FORMAT, "position": receipt.position, "leaf_hash": receipt.leaf_hash.hex(),
                       "recorded_at": _format_time(receipt.recorded_at), "request_id": receipt.request_id,
                       "key": key.name, "note": note}, indent=2, ensure_ascii=False) + "\n"


def parse_receipt_json(text: str) -> str:
    """The receipt note of a RECEIPT.json, whose other fields must agree with the note (its signature is not checked here)."""
    record = _json_object(text, "RECEIPT.json", _RECEIPT_FIELDS, RECEIPT_FORMAT)
    note: str = record["note"]
    _bounded(note, "RECEIPT.json's note", MAX_TEXT)
    check_text(note, "RECEIPT.json's note")
    receipt = Receipt.parse(note_text(note))
    stated = {"position": receipt.position, "leaf_hash": receipt.leaf_hash.hex(),
              "recorded_at": _format_time(receipt.recorded_at), "request_id": receipt.request_id}
    for name, value in stated.items():
        if type(record[name]) is not type(value) or record[name] != value:
            raise VerificationError(f"RECEIPT.json's {name} {_short(record[name])} is not its signed note's {value!r}")
    if not isinstance(record["key"], str) or record["key"] not in _signature_names(note):
        raise VerificationError(f"RECEIPT.json names the key {_short(record['key'])}, which signed nothing in its note")
    return note


def make_proof(*, index: int, hashes: Sequence[bytes], checkpoint_note: str, extra: bytes = b"") -> str:
    """The C2SP tlog-proof text: the inclusion proof `hashes` (RFC 9162 order) of entry `index` in the checkpoint's tree."""
    if type(index) is not int or not 0 <= index <= _MAX_INDEX:
        raise MalformedInputError(f"a proof's index must be an integer from 0 to {_MAX_INDEX}")
    if len(hashes) > _MAX_HASHES or any(not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE for h in hashes):
        raise MalformedInputError(f"an inclusion proof is at most {_MAX_HASHES} hashes of {HASH_SIZE} bytes")
    if not isinstance(extra, (bytes, bytearray)):
        raise MalformedInputError("a proof's extra data must be bytes")
    _bounded(checkpoint_note, "the checkpoint", MAX_TEXT)
    lines = [PROOF_FORMAT, *([f"extra {_b64(extra)}"] if extra else []), f"index {index}", *map(_b64, hashes)]
    text = "\n".join(lines) + "\n\n" + checkpoint_note
    parse_proof(text)  # checks the checkpoint note, and that the text reads back as written
    return text


def parse_proof(text: str) -> Proof:
    """Parse C2SP tlog-proof text strictly; the checkpoint must be well formed, its signatures are not checked here."""
    _bounded(text, "the proof", MAX_TEXT)
    check_text(text, "the proof")
    split = text.find("\n\n")
    if split < 0:
        raise MalformedInputError("a proof is its header lines, an empty line, then the signed checkpoint")
    lines = text[:split].split("\n")
    if lines[0] != PROOF_FORMAT:
        raise MalformedInputError(f"a proof's first line must be {PROOF_FORMAT!r}")
    at, extra = 1, b""
    if at < len(lines) and lines[at].startswith("extra "):
        extra = b64decode_canonical(lines[at][len("extra "):], "the proof's extra data")
        if not extra:
            raise MalformedInputError("a proof's extra line must carry data (with none, the line is left out)")
        at += 1
    if at == len(lines) or not lines[at].startswith("index "):
        raise MalformedInputError("a proof needs an 'index N' line after its first (and optional extra) line")
    index = _decimal(lines[at][len("index "):], "proof index")
    if len(lines) - at - 1 > _MAX_HASHES:
        raise MalformedInputError(f"an inclusion proof has at most {_MAX_HASHES} hashes")
    hashes = [b64decode_canonical(line, "proof hash") for line in lines[at + 1:]]
    if any(len(h) != HASH_SIZE for h in hashes):
        raise MalformedInputError(f"each proof hash must be {HASH_SIZE} bytes")
    checkpoint_note = text[split + 2:]
    Checkpoint.parse(note_text(checkpoint_note))
    return Proof(index, hashes, checkpoint_note, extra)


def proof_json(proof_text: str) -> str:
    """PROOF.json: the tlog-proof text in a JSON wrapper, for an API that answers JSON."""
    parse_proof(proof_text)
    return json.dumps({"format": PROOF_FORMAT, "proof": proof_text}, indent=2, ensure_ascii=False) + "\n"


def parse_proof_json(text: str) -> str:
    """The tlog-proof text of a PROOF.json (parsed by `parse_proof` when verified)."""
    proof: str = _json_object(text, "PROOF.json", _PROOF_FIELDS, PROOF_FORMAT)["proof"]
    _bounded(proof, "PROOF.json's proof", MAX_TEXT)
    return proof


def cosign_checkpoint(note: str, log_verifier: Verifier, signer: Signer) -> str:
    """`note` with the receipt key's signature line added, once the log's signature on it verifies.

    The added line is an ordinary signed-note signature (Ed25519, 0x01) over the same body. Refused:
    a checkpoint the log's key did not sign, a receipt key named as a signer already on the note (the
    log's own key among them), and a checkpoint whose origin is the receipt format's first line.
    """
    _bounded(note, "the checkpoint", MAX_TEXT)
    checkpoint = open_checkpoint(note, log_verifier)
    if checkpoint.origin == RECEIPT_FORMAT:  # the receipt key's two kinds of note must never read as each other
        raise MalformedInputError(f"a checkpoint's origin cannot be {RECEIPT_FORMAT!r}")
    key = signer.verifier
    if key.name in _signature_names(note):
        raise MalformedInputError(f"the checkpoint already carries a signature named {key.name!r}: the receipt key "
                                  "must be its own key, with its own name")
    text = note_text(note)
    cosigned = note + sign_note(text, signer)[len(text) + 1:]
    open_note(cosigned, key)  # at most 100 signature lines, and ours verifies
    return cosigned


def verify_receipt(receipt_note: str, proof_text: str, trusted: Verifier, *, log_key: Verifier | None = None,
                   origin: str | None = None) -> Receipt:
    """Verify that the log holds the receipt's event; return the receipt, or raise naming what failed.

    `trusted` is the receipt key: it must have signed the receipt and cosigned the proof's checkpoint;
    `log_key`, if given, must have signed the checkpoint too; `origin`, if given, is the log expected.
    Then the proof must be for the receipt's position, in a checkpoint of the receipt's log whose tree
    holds that position, and lead from the receipt's leaf hash to the checkpoint's root (RFC 9162 §2.1.3.2).
    """
    with _about("the receipt"):
        receipt = open_receipt(receipt_note, trusted)
    if origin is not None and receipt.origin != origin:
        raise VerificationError(f"the receipt is for the log {receipt.origin!r}, not {origin!r}")
    proof = parse_proof(proof_text)
    if proof.index != receipt.position:
        raise VerificationError(f"the proof is for position {proof.index}, the receipt for position {receipt.position}")
    with _about("the proof's checkpoint, under the receipt key"):
        checkpoint = open_checkpoint(proof.checkpoint_note, trusted)
    if log_key is not None:
        with _about("the proof's checkpoint, under the log's key"):
            open_checkpoint(proof.checkpoint_note, log_key)
    if checkpoint.origin != receipt.origin:
        raise VerificationError(f"the checkpoint is of the log {checkpoint.origin!r}, the receipt of {receipt.origin!r}")
    position, size = receipt.position, checkpoint.size
    if position >= size:
        raise VerificationError(f"position {position} is beyond the checkpoint's tree size {size}: "
                                "the log does not hold it")
    try:
        verify_inclusion(position, size, receipt.leaf_hash, proof.hashes, checkpoint.root)
    except RootMismatchError:
        raise RootMismatchError(f"the leaf at position {position} is not the receipt's: the event was altered or "
                                "replaced (or the proof's hashes were)") from None
    except ProofError as e:
        raise ProofError(f"the inclusion proof of position {position}: {e}") from None
    return receipt


@contextmanager
def _about(what: str) -> Iterator[None]:
    """Say which note an error of note.py is about: the receipt, or the checkpoint under one key or the other."""
    try:
        yield
    except (MalformedInputError, SignatureError) as e:
        raise type(e)(f"{what}: {e}") from None


def _bounded(text: object, what: str, limit: int) -> None:
    if not isinstance(text, str) or not text:
        raise MalformedInputError(f"{what} is empty or not text")
    if len(text) > limit:
        raise MalformedInputError(f"{what} is longer than {limit} characters: no real one is")


def _field(line: str, name: str) -> str:
    if not line.startswith(name + " "):
        raise MalformedInputError(f"a receipt line must be '{name} …' here, got {_short(line)}")
    return line[len(name) + 1:]


def _origin(line: str) -> str:
    if not line or not line.isprintable() or line.strip() != line:
        raise MalformedInputError("a receipt's origin must be non-empty printable text with no surrounding spaces")
    return line


def _decimal(value: str, what: str) -> int:
    if not _DECIMAL.fullmatch(value) or int(value) > _MAX_INDEX:
        raise MalformedInputError(f"{what} {_short(value)} is not a decimal uint64 without leading zeros")
    return int(value)


def _format_time(moment: datetime) -> str:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise MalformedInputError("a receipt's time must be a timezone-aware datetime")
    try:
        utc = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise MalformedInputError("a receipt's time is out of range") from None
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_time(value: str) -> datetime:
    match = _TIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second, micro = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError:  # no such date or time of day: 2026-02-30, 24:00, a leap second
        raise MalformedInputError(f"a receipt's time {_short(value)} is not RFC 3339 UTC with microseconds and 'Z' "
                                  "(2026-06-15T09:30:01.123456Z)") from None


def _signature_names(note: str) -> set[str]:
    """The key names on a note's signature lines, none of them checked."""
    text = note_text(note)
    return {line[len(_DASH):].partition(" ")[0] for line in note[len(text) + 1:].split("\n") if line.startswith(_DASH)}


def _json_object(text: str, what: str, fields: tuple[str, ...], form: str) -> dict[str, Any]:
    """Strict JSON (no repeated key, no NaN) holding one object with exactly `fields`, its "format" being `form`."""
    _bounded(text, what, _MAX_JSON)
    try:
        record = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise MalformedInputError(f"{what} is not strict JSON (no repeated keys, no NaN)") from None
    if type(record) is not dict or sorted(record) != sorted(fields):
        raise MalformedInputError(f"{what} must be an object with exactly the fields {', '.join(fields)}")
    if record["format"] != form:
        raise MalformedInputError(f"{what}'s format must be {form!r}")
    return record


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("repeated key")
    return record


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _short(value: object) -> str:
    """A value the input chose, quoted and cut short for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
