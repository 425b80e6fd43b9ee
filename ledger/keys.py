"""Key material, never logged: the sealer's Ed25519 signing key (a C2SP signer key string), its public verifier
key, and the API's cursor secret."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ledger_tools.errors import MalformedInputError
from ledger_tools.note import Signer, Verifier, generate_signer

from .errors import ConfigError, SigningKeyError
from .settings import Settings

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
#: Values people paste from examples: a shared secret must be random, not one of these.
PLACEHOLDERS = frozenset({"changeme", "changethis", "secret", "password", "placeholder", "example", "test", "xxx"})
MIN_SECRET_CHARS = 32


def create_signing_key(path: Path, name: str) -> Signer:
    """Write a new key to `path` (mode 0600) and its public verifier key beside it as `.vkey` (mode 0644)."""
    if path.exists():
        raise SigningKeyError(f"{path} already exists; refusing to overwrite a signing key")
    try:
        signer = generate_signer(name)
    except MalformedInputError as e:
        raise SigningKeyError(f"cannot name a key {name!r}: {e}") from None
    _write_new(path, str(signer) + "\n", PRIVATE_MODE)
    public = verifier_path(path)
    public.unlink(missing_ok=True)  # a stale public key beside a new private one would verify nothing
    _write_new(public, str(signer.verifier) + "\n", PUBLIC_MODE)
    return signer


def _write_new(path: Path, text: str, mode: int) -> None:
    """Create `path` with exactly `mode`, whatever the umask, and never over an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), mode)
        f.write(text)


def verifier_path(key_path: Path) -> Path:
    return key_path.with_suffix(".vkey")


def check_private(path: Path) -> None:
    """Refuse a secret file that the file's group or other users may read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as e:
        raise SigningKeyError(f"cannot read {path}: {e.strerror}") from None
    if mode & 0o077:
        raise SigningKeyError(f"{path} is mode {mode:04o}, open to other users; production needs 0600 (chmod 600 {path})")


def load_signer(path: Path, *, private: bool = False) -> Signer:
    """The signing key at `path`; with `private` (production) the file must be readable by its owner only."""
    if not path.is_file():
        raise SigningKeyError(f"signing key file {path} does not exist; run `govledger keys generate` or set GOVLEDGER_SIGNING_KEY")
    if private:
        check_private(path)
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
    return _parse_verifier(text, str(path))


def load_public_verifier(path: Path) -> Verifier:
    """A verifier from a public `.vkey` file only: what an API node holds, which must never be the private key."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise SigningKeyError(f"public key {path} does not exist; copy the sealer's signing.vkey there "
                              "or set GOVLEDGER_VERIFY_KEY") from None
    except OSError as e:
        raise SigningKeyError(f"cannot read key {path}: {e.strerror}") from None
    if text.startswith("PRIVATE+KEY+"):
        raise SigningKeyError(f"{path} holds a private signing key; an API node needs only the public .vkey")
    return _parse_verifier(text, str(path))


def _parse_verifier(text: str, where: str) -> Verifier:
    try:
        return Verifier.parse(text)
    except MalformedInputError as e:
        raise SigningKeyError(f"{where} is not a verifier key: {e}") from None


def create_api_secret(path: Path) -> None:
    """A new random cursor secret at `path` (mode 0600)."""
    _write_new(path, secrets.token_hex(32) + "\n", PRIVATE_MODE)


def api_secret(settings: Settings) -> bytes | None:
    """The secret that signs cursors: GOVLEDGER_API_SECRET, else the data directory's keys/api.secret.

    Production refuses a missing secret, a placeholder, and a file other users may read; development
    answers None when there is none, and the caller makes one that lasts as long as its process.
    """
    production = settings.mode == "production"
    if settings.api_secret is not None:
        value, where = settings.api_secret.get_secret_value().strip(), "GOVLEDGER_API_SECRET"
    elif settings.api_secret_file.is_file():
        if production:
            try:
                check_private(settings.api_secret_file)
            except SigningKeyError as e:
                raise ConfigError(e.message) from None
        try:
            value, where = settings.api_secret_file.read_text().strip(), str(settings.api_secret_file)
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"cannot read the API secret {settings.api_secret_file}") from None
    elif production:
        raise ConfigError("production mode needs GOVLEDGER_API_SECRET (or keys/api.secret from `govledger init`), "
                          "the same for every API process")
    else:
        return None
    if production and (len(value) < MIN_SECRET_CHARS or value.lower() in PLACEHOLDERS or len(set(value)) < 8):
        raise ConfigError(f"{where} is a placeholder, not a secret: use at least {MIN_SECRET_CHARS} random characters "
                          "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    if not value:
        raise ConfigError(f"{where} is empty")
    return value.encode()


CONNECTIONS_KEY_BYTES = 32


def connections_key(settings: Settings) -> bytes:
    """The AES-256 key of data connections' URLs: GOVLEDGER_CONNECTIONS_KEY, else keys/connections.key (64 hex digits).

    Development makes the file (0600) on first use; production refuses a missing key and a file other users may
    read: a key made silently there would strand every URL stored under the one an operator meant to use.
    """
    path = settings.connections_key_file
    if settings.connections_key is not None:
        text, where = settings.connections_key.get_secret_value().strip(), "GOVLEDGER_CONNECTIONS_KEY"
    else:
        if not path.is_file():
            if settings.mode == "production":
                raise ConfigError(f"production mode needs GOVLEDGER_CONNECTIONS_KEY or {path} (64 hex digits, mode 0600)")
            try:
                _write_new(path, secrets.token_hex(CONNECTIONS_KEY_BYTES) + "\n", PRIVATE_MODE)
            except FileExistsError:
                pass  # another process made it first: use theirs
        if settings.mode == "production":
            try:
                check_private(path)
            except SigningKeyError as e:
                raise ConfigError(e.message) from None
        try:
            text, where = path.read_text().strip(), str(path)
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"cannot read the connections key {path}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != CONNECTIONS_KEY_BYTES:
        raise ConfigError(f"{where} is not a connections key: 64 hex digits (e.g. `python -c 'import secrets; "
                          "print(secrets.token_hex(32))'`)")
    return key
