"""The data connections' URLs, encrypted, in `data_connections` beside the ledger and never in it.

Each URL is sealed with AES-256-GCM under the connections key (`keys.connections_key`), its connection id bound as
associated data, so a row copied onto another connection's id does not decrypt. The table may be updated and
deleted from, unlike the ledger: a revoked connection's credentials are destroyed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .database import Database
from .errors import ConfigError
from .sources import SourceNotFound

NONCE_BYTES = 12


class ConnectionCredentials:
    """The `CredentialStore` of domain.services.sources, on the ledger's database."""

    def __init__(self, db: Database, key: bytes | Callable[[], bytes]) -> None:
        """`key` may be a function that reads it: then it is read on first use, so a service that never touches a
        connection needs no connections key (production refuses to run a connection without one)."""
        self.db = db
        self._key = key
        self._p = db.param()

    @functools.cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self._key() if callable(self._key) else self._key)

    def put(self, connection_id: UUID, url: str) -> None:
        """Keep `url`, replacing a row that an earlier registration left when its events were not saved."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, url.encode(), str(connection_id).encode())
        p = self._p
        with self.db.connect() as conn:
            conn.execute(f"INSERT INTO data_connections (connection_id, ciphertext, created_at) VALUES ({p}, {p}, {p})"
                         " ON CONFLICT (connection_id) DO UPDATE SET ciphertext = excluded.ciphertext,"
                         " created_at = excluded.created_at", (str(connection_id), sealed, datetime.now(UTC).isoformat()))
            conn.commit()

    def get(self, connection_id: UUID) -> str:
        with self.db.connect() as conn:
            row = conn.execute(f"SELECT ciphertext FROM data_connections WHERE connection_id = {self._p}",
                               (str(connection_id),)).fetchone()
        if row is None:
            raise SourceNotFound(f"no credentials are kept for connection {connection_id}")
        sealed = bytes(row[0])
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], str(connection_id).encode()).decode()
        except InvalidTag:
            raise ConfigError(f"the credentials of connection {connection_id} do not decrypt: the connections key is "
                              "not the one they were stored under, or the row was altered") from None

    def delete(self, connection_id: UUID) -> bool:
        with self.db.connect() as conn:
            cur = conn.execute(f"DELETE FROM data_connections WHERE connection_id = {self._p}", (str(connection_id),))
            conn.commit()
            return bool(cur.rowcount)
