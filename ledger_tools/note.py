"""C2SP signed notes with Ed25519 signatures (https://c2sp.org/signed-note).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
"— <name> <base64(key id || signature)>". The key id is the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || public key). Keys travel as strings:
verifier "name+hex(key id)+base64(0x01 || public key)",
signer "PRIVATE+KEY+name+hex(key id)+base64(0x01 || 32-byte seed)".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import MalformedInputError, SignatureError

__all__ = ["Verifier", "Signer", "generate_signer", "key_id", "sign_note", "open_note", "note_text", "check_text",
           "b64decode_canonical"]

_ED25519 = 0x01
_DASH = "\u2014 "
_MAX_SIGNATURES = 100  # as Go's sumdb/note: a note with more signature lines is refused, not scanned
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public_key).digest()[:4]


def check_text(text: str, what: str) -> None:
    """C2SP signed-note text is UTF-8 with no control character but newline; raise MalformedInputError otherwise."""
    if not isinstance(text, str):
        raise MalformedInputError(f"{what} is not text")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise MalformedInputError(f"{what} is not valid Unicode (it holds a lone surrogate)") from None
    control = _CONTROL.search(text)
    if control:
        raise MalformedInputError(f"{what} holds the control character {control.group()!r}; only newline is allowed")


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c < " " or c == "\x7f" for c in name) or "+" in name:
        raise MalformedInputError(f"key name {name!r} must be non-empty with no spaces, control characters or '+'")


def b64decode_canonical(value: object, what: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4) in its one canonical spelling: no other characters, zero pad bits."""
    if not isinstance(value, str):
        raise MalformedInputError(f"{what} is not canonical base64")
    try:
        raw = binascii.a2b_base64(value)
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        raise MalformedInputError(f"{what} is not canonical base64") from None
    # Re-encoding gives the input back only if it was the canonical spelling: this refuses other
    # characters, line breaks, missing or extra padding and non-zero pad bits in one comparison.
    if binascii.b2a_base64(raw, newline=False) != value.encode():
        raise MalformedInputError(f"{what} is not canonical base64")
    return raw



@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier key."""

    name: str
    id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedInputError("verifier key must be name+hexid+base64key")
        name, hex_id, b64 = parts
        _check_name(name)
        try:
            kid = bytes.fromhex(hex_id)
        except ValueError as e:
            raise MalformedInputError("verifier key id is not hex") from e
        if kid.hex() != hex_id:
            raise MalformedInputError("verifier key id must be 8 lowercase hex digits")
        raw = b64decode_canonical(b64, "verifier key")
        if len(kid) != 4 or len(raw) != 33 or raw[0] != _ED25519:
            raise MalformedInputError("verifier key is not a 4-byte id and an Ed25519 (0x01) 32-byte key")
        if key_id(name, raw[1:]) != kid:
            raise MalformedInputError(f"verifier key id {hex_id} does not match its name and key")
        return cls(name, kid, raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([_ED25519]) + self.public_key).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 note signer key; `str()` is the C2SP private key string, keep it secret."""

    name: str
    seed: bytes

    @classmethod
    def parse(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise MalformedInputError("signer key must be PRIVATE+KEY+name+hexid+base64key")
        name, hex_id, b64 = parts[2:]
        _check_name(name)
        raw = b64decode_canonical(b64, "signer key")
        if len(raw) != 33 or raw[0] != _ED25519:
            raise MalformedInputError("signer key is not an Ed25519 (0x01) 32-byte seed")
        signer = cls(name, raw[1:])
        if signer.verifier.id.hex() != hex_id:
            raise MalformedInputError(f"signer key id {hex_id} does not match its name and key")
        return signer

    @property
    def verifier(self) -> Verifier:
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return Verifier(self.name, key_id(self.name, public), public)

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def __str__(self) -> str:
        v = self.verifier
        return f"PRIVATE+KEY+{self.name}+{v.id.hex()}+{base64.b64encode(bytes([_ED25519]) + self.seed).decode()}"

    def __repr__(self) -> str:  # never show the seed
        return f"Signer(name={self.name!r}, id={self.verifier.id.hex()})"


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer named `name`."""
    _check_name(name)
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return Signer(name, seed)


def sign_note(text: str, signer: Signer) -> str:
    """Sign `text` (non-empty, ending in a newline, no blank line) as a C2SP signed note."""
    if not text or not text.endswith("\n") or "\n\n" in text:
        raise MalformedInputError("note text must be non-empty, end in a newline and hold no blank line")
    sig = signer.sign(text.encode())
    line = base64.b64encode(signer.verifier.id + sig).decode()
    return f"{text}\n{_DASH}{signer.name} {line}\n"


def note_text(note: str) -> str:
    """The signed text of a note (everything up to and including the newline before the blank line)."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise MalformedInputError("a signed note needs text, a blank line and signature lines ending in a newline")
    return note[: split + 1]


def open_note(note: str, verifier: Verifier) -> str:
    """Return the text of `note` if a signature by `verifier` holds; raise otherwise.

    Signatures by other keys are ignored; any signature that claims `verifier`'s name and key id
    but does not verify is an error, as is a note with no signature by it.
    """
    if not isinstance(note, str) or not note:
        raise MalformedInputError("empty note")
    check_text(note, "the note")
    text = note_text(note)
    sig_lines = note[len(text) + 1 :].split("\n")
    if sig_lines[-1] != "" or len(sig_lines) < 2:
        raise MalformedInputError("signed note has no signature lines")
    if len(sig_lines) - 1 > _MAX_SIGNATURES:
        raise MalformedInputError(f"signed note has more than {_MAX_SIGNATURES} signature lines")
    message = text.encode()
    good = False
    for line in sig_lines[:-1]:
        if not line.startswith(_DASH):
            raise MalformedInputError(f"malformed signature line {line!r}")
        name, _, b64 = line[len(_DASH) :].partition(" ")
        _check_name(name)
        raw = b64decode_canonical(b64, "signature")
        if len(raw) < 5:
            raise MalformedInputError("signature line is too short")
        if name != verifier.name or raw[:4] != verifier.id:
            continue
        if len(raw) != 68 or not verifier.verify(message, raw[4:]):
            raise SignatureError(f"signature by {verifier.name}+{verifier.id.hex()} does not verify")
        good = True
    if not good:
        raise SignatureError(f"note carries no signature by {verifier.name}+{verifier.id.hex()}")
    return text
