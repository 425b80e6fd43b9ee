"""Per-subject encryption of personal data (crypto-shredding), with keys kept outside the event store.

Personal data linked to a data subject is written into events only as a token
`gls1:<subject>:<base64(nonce ‖ AES-256-GCM ciphertext)>`, the subject bound as associated data.
The subject's key lives in `subject_keys` — a table that, unlike the ledger's, may be deleted from:
in its own SQLite file beside the database, or its own table on PostgreSQL. Erasing a subject
deletes the key: every token of that subject is unreadable forever, and no stored event changes, so
every hash, proof and signature still verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import sqlite3
from contextlib import AbstractContextManager, closing
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .database import SQLITE_BUSY_TIMEOUT_S, Database
from .errors import InvalidArgument

PREFIX = "gls1"
ERASED = "[erased]"


class SubjectVault:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._p = db.param()

    def _connect(self) -> AbstractContextManager[Any]:
        if not self.db.is_sqlite:
            return self.db.connect()  # migrations/postgresql/0002 owns its table
        assert self.db.path is not None
        # A file of its own, so that erasing never writes to the ledger's file (nor to its backups).
        conn = sqlite3.connect(self.db.path.with_name(self.db.path.stem + "-subject-keys.db"),
                               timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BLOB NOT NULL, created_at TEXT NOT NULL)")
        return closing(conn)

    @staticmethod
    def _check(subject: str) -> str:
        if not isinstance(subject, str) or not subject or ":" in subject or len(subject) > 200:
            raise InvalidArgument("a data subject is a non-empty id of at most 200 characters, without ':'")
        return subject

    def _key(self, conn: Any, subject: str, create: bool) -> bytes | None:
        row = conn.execute(f"SELECT key FROM subject_keys WHERE subject = {self._p}", (subject,)).fetchone()
        if row is not None or not create:
            return bytes(row[0]) if row else None
        key = AESGCM.generate_key(bit_length=256)
        conn.execute(f"INSERT INTO subject_keys (subject, key, created_at) VALUES ({self._p}, {self._p}, {self._p})"
                     " ON CONFLICT (subject) DO NOTHING", (subject, key, datetime.now(UTC).isoformat()))
        if not self.db.is_sqlite:
            conn.commit()
        return self._key(conn, subject, create=False)

    def encrypt(self, subject: str, plaintext: str) -> str:
        subject = self._check(subject)
        with self._connect() as conn:
            key = self._key(conn, subject, create=True)
        assert key is not None
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), subject.encode())
        return f"{PREFIX}:{subject}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        """The plaintext, or ERASED once the subject's key is gone."""
        try:
            prefix, subject, body = token.split(":", 2)
            raw = base64.b64decode(body, validate=True)
        except (ValueError, binascii.Error):
            raise InvalidArgument("not a subject-encrypted token") from None
        if prefix != PREFIX:
            raise InvalidArgument("not a subject-encrypted token")
        with self._connect() as conn:
            key = self._key(conn, subject, create=False)
        if key is None:
            return ERASED
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], subject.encode()).decode()
        except InvalidTag:
            raise InvalidArgument(f"a token of subject {subject} does not decrypt: it was altered") from None

    def digest(self, subject: str, text: str) -> str:
        """HMAC-SHA256 of `text` under the subject's key (made if need be), hex: unverifiable once the key is erased."""
        subject = self._check(subject)
        with self._connect() as conn:
            key = self._key(conn, subject, create=True)
        assert key is not None
        return hmac.new(key, text.encode("utf-8", "backslashreplace"), hashlib.sha256).hexdigest()

    def knows(self, subject: str) -> bool:
        """Whether a key is held for `subject` (anything that is not a subject id is not known)."""
        try:
            subject = self._check(subject)
        except InvalidArgument:
            return False
        with self._connect() as conn:
            return self._key(conn, subject, create=False) is not None

    def erase(self, subject: str) -> bool:
        """Destroy the subject's key; True if there was one."""
        subject = self._check(subject)
        with self._connect() as conn:
            cur = conn.execute(f"DELETE FROM subject_keys WHERE subject = {self._p}", (subject,))
            if not self.db.is_sqlite:
                conn.commit()
            return bool(cur.rowcount)
