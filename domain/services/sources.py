"""Named data connections (superadmins only): the ledger records where data may come from; the credentials to
reach it are kept by a `CredentialStore` outside the event store."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from ..connections import (
    ConnectionUrl,
    DataConnection,
    check_connection_name,
    connection_id_for,
)
from ..errors import Conflict, InvalidInput
from ..roles import Action, Actor
from .guard import Pending, Service, command, pending, query


class CredentialStore(Protocol):
    """Connection URLs (with their passwords), kept encrypted outside the event store."""

    def put(self, connection_id: UUID, url: str) -> None:
        """Keep `url` for the connection, replacing what an earlier, unrecorded registration left."""
        ...

    def get(self, connection_id: UUID) -> str:
        """The URL kept for the connection; raises if there is none."""
        ...

    def delete(self, connection_id: UUID) -> bool:
        """Destroy the connection's URL; True if there was one."""
        ...


class Sources(Service):
    """Named connections to the databases datasets are read from."""

    credentials: CredentialStore | None = None

    def _hashable(self, actor: Actor, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A request's hash is recorded for ever: a plain hash of a URL would let anyone holding the ledger test
        guessed passwords offline. It covers the URL without its password, so a retry with the same key and
        another password replays the first answer instead of being refused (the password is the store's)."""
        if command == "register_connection" and "url" in arguments:
            try:
                redacted = ConnectionUrl.parse(arguments["url"]).redacted
            except InvalidInput:
                redacted = "[invalid]"  # the command refuses it anyway, before anything is saved
            arguments = {**arguments, "url": redacted}
        return super()._hashable(actor, command, arguments)

    def _store(self) -> CredentialStore:
        if self.credentials is None:
            raise InvalidInput("this service has no credential store configured for data connections")
        return self.credentials

    @command(Action.MANAGE_CONNECTIONS, "data_connection", "name")
    def register_connection(self, actor: Actor, *, name: str, url: str) -> Pending:
        """A connection by name; its URL is stored (encrypted, outside the ledger) before its event is recorded,
        so a recorded connection always has its credentials. A name is registered once."""
        check_connection_name(name)
        parsed = ConnectionUrl.parse(url)
        store = self._store()
        if self._exists(connection_id_for(name)):
            raise Conflict(f"connection {name} already exists")
        connection = DataConnection.register(name, parsed, actor.username)
        store.put(connection.id, url)
        return pending(connection, id=connection.id)

    @command(Action.MANAGE_CONNECTIONS, "data_connection", "name")
    def revoke_connection(self, actor: Actor, *, name: str) -> Pending:
        """Revoke a connection: recorded, then its credentials are destroyed."""
        connection = self.get_connection(name)
        store = self._store()
        connection.revoke(actor.username)
        return pending(connection, id=connection.id, then=lambda: store.delete(connection.id))

    def get_connection(self, name: str) -> DataConnection:
        """The connection registered as `name` (NotFound if none). Not guarded: it holds no secret; callers that
        answer it to a person check their role first."""
        return self._get(connection_id_for(check_connection_name(name)), DataConnection, "data connection")

    @query(Action.LIST_CONNECTIONS, "data_connection")
    def list_connections(self, actor: Actor) -> list[tuple[DataConnection, int]]:
        """Every registered connection, revoked ones too, with the ledger position of its registration, oldest first."""
        topic = get_topic(DataConnection.Registered)  # type: ignore[attr-defined]  # made by @event
        found: list[tuple[DataConnection, int]] = []
        start = 1
        while batch := self.recorder.select_notifications(start=start, limit=500, topics=[topic]):
            found += [(self._get(UUID(str(n.originator_id)), DataConnection, "data connection"), n.id - 1) for n in batch]
            start = batch[-1].id + 1
        return found

    def connection_url(self, name: str) -> str:
        """The URL to read from an active connection, for the ingestion worker (never answered to a caller)."""
        connection = self.get_connection(name)
        connection.check_active()
        return self._store().get(connection.id)
