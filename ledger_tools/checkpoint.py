"""C2SP tlog checkpoints (https://c2sp.org/tlog-checkpoint): origin, tree size, root hash, signed as a note."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .errors import MalformedInputError, VerificationError
from .merkle import HASH_SIZE
from .note import Signer, Verifier, b64decode_canonical, check_text, open_note, sign_note

__all__ = ["Checkpoint", "sign_checkpoint", "open_checkpoint"]

_MAX_SIZE = (1 << 64) - 1  # C2SP: the tree size is a uint64


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The checkpoint body: origin line, decimal size, base64 root, each ending in a newline."""
        if not self.origin or "\n" in self.origin:
            raise MalformedInputError("checkpoint origin must be one non-empty line")
        if len(self.root) != HASH_SIZE or type(self.size) is not int or not 0 <= self.size <= _MAX_SIZE:
            raise MalformedInputError("checkpoint needs a 32-byte root and a non-negative size")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body; extension lines after the root are allowed and ignored.

        Strict as C2SP tlog-checkpoint asks: the size is ASCII decimal digits with no leading zero and
        fits a uint64, the root is canonical standard base64 of 32 bytes, no control character but newline.
        """
        check_text(text, "the checkpoint")
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise MalformedInputError("checkpoint body needs origin, size and root lines")
        origin, size_line, root_line = lines[0], lines[1], lines[2]
        if not origin:
            raise MalformedInputError("checkpoint origin is empty")
        if not (size_line.isascii() and size_line.isdigit()) or (size_line != "0" and size_line.startswith("0")) \
                or len(size_line) > 20 or int(size_line) > _MAX_SIZE:
            raise MalformedInputError(f"checkpoint tree size {size_line!r} is not a decimal uint64 without leading zeros")
        root = b64decode_canonical(root_line, "checkpoint root hash")
        if len(root) != HASH_SIZE:
            raise MalformedInputError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, int(size_line), root)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note."""
    return sign_note(checkpoint.text(), signer)


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify the signature on a checkpoint note and parse it; `origin`, if given, must match."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint
