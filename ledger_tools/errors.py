"""One error base for ledger_tools; every verifier raises a subclass of it, never passes on bad input."""

from __future__ import annotations

__all__ = [
    "LedgerToolsError",
    "MalformedInputError",
    "VerificationError",
    "ProofError",
    "RootMismatchError",
    "SignatureError",
    "ChainError",
]


class LedgerToolsError(Exception):
    """Base of every error raised by ledger_tools."""


class MalformedInputError(LedgerToolsError):
    """Input that cannot be parsed or breaks a precondition (wrong hash length, bad size, empty input)."""


class VerificationError(LedgerToolsError):
    """Well-formed input that does not verify."""


class ProofError(VerificationError):
    """A Merkle proof has the wrong shape for the sizes it claims."""


class RootMismatchError(VerificationError):
    """A recomputed Merkle root differs from the expected one."""


class SignatureError(VerificationError):
    """A signed note carries no valid signature by the expected key, or a bad one."""


class ChainError(VerificationError):
    """A hash chain is broken; `position` is the first position that does not verify."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position
