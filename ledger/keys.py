"""The sealer's Ed25519 signing key: a file holding a C2SP signer key string, never logged."""

from __future__ import annotations

import os
from pathlib import Path

from ledger_tools.errors import MalformedInputError
from ledger_tools.note import Signer, Verifier, generate_signer

from .errors import SigningKeyError


def create_signing_key(path: Path, name: str) -> Signer:
    """Write a new key to `path` (mode 0600) and its public verifier key beside it as `.vkey`."""
    if path.exists():
        raise SigningKeyError(f"{path} already exists; refusing to overwrite a signing key")
    try:
        signer = generate_signer(name)
    except MalformedInputError as e:
        raise SigningKeyError(f"cannot name a key {name!r}: {e}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(str(signer) + "\n")
    verifier_path(path).write_text(str(signer.verifier) + "\n")
    return signer


def verifier_path(key_path: Path) -> Path:
    return key_path.with_suffix(".vkey")


def load_signer(path: Path) -> Signer:
    if not path.is_file():
        raise SigningKeyError(f"signing key file {path} does not exist; run `govledger init` or set GOVLEDGER_SIGNING_KEY")
    try:
        return Signer.parse(path.read_text())
    except (MalformedInputError, UnicodeDecodeError):
        # Say what is wrong without echoing any of the file's bytes.
        raise SigningKeyError(f"{path} is not a govledger signing key (expected PRIVATE+KEY+name+id+key)") from None
    except OSError as e:
        raise SigningKeyError(f"cannot read signing key {path}: {e.strerror}") from None


def load_verifier(path: Path) -> Verifier:
    """A public verifier key from a `.vkey` file, or derived from a signing key file."""
    try:
        text = path.read_text().strip()
    except OSError as e:
        raise SigningKeyError(f"cannot read key {path}: {e.strerror}") from None
    if text.startswith("PRIVATE+KEY+"):
        return load_signer(path).verifier
    try:
        return Verifier.parse(text)
    except MalformedInputError as e:
        raise SigningKeyError(f"{path} is not a verifier key: {e}") from None
