"""Users, their API keys, and the erasure of a data subject's personal data."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from ..access import Erasure
from ..errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from ..inputs import check_text
from ..roles import Action, Actor, Role, allowed
from ..users import (
    NAMESPACE,
    ApiKey,
    User,
    api_key_id_for,
    check_username,
    hash_api_key,
    new_api_key,
    parse_api_key,
    user_id_for,
)
from .guard import Pending, Recorded, Service, command, pending, query

INSTALLATION_ID = uuid5(NAMESPACE, "installation")
MAX_EMAIL = 320


class Vault(Protocol):
    """Per-subject encryption of personal data, keys outside the event store (crypto-shredding)."""

    def encrypt(self, subject: str, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def erase(self, subject: str) -> bool: ...

    def knows(self, subject: str) -> bool:
        """Whether the vault holds a key for `subject`."""
        ...

    def digest(self, subject: str, text: str) -> str:
        """A MAC of `text` under the subject's key (made if need be): unverifiable once the key is destroyed."""
        ...


class Installation(Aggregate):
    """Marks that the first superadmin exists, so `create-admin` works exactly once."""

    @event("AdminBootstrapped")
    def __init__(self, admin_id: UUID) -> None:
        self.admin_id = admin_id

    @staticmethod
    def create_id(admin_id: UUID) -> UUID:
        return INSTALLATION_ID


def _new_key(user: User, label: str, issued_by: str) -> tuple[ApiKey, str]:
    key_id, token = new_api_key()
    user.record_key(key_id, label, issued_by)
    return ApiKey(key_id, user.id, label, hash_api_key(token), issued_by), token


class People(Service):
    """Users, roles and API keys (superadmins only), and erasure of personal data."""

    vault: Vault | None

    def create_admin(self, username: str) -> Recorded:
        """The first superadmin and its first API key (answered once). Refused once an admin exists.

        Not a guarded command: there is no actor yet; whoever can run it has the database already."""
        check_username(username)
        if self._exists(INSTALLATION_ID):
            raise Conflict("the first administrator already exists; an administrator's key creates further users")
        user = User(username, Role.SUPERADMIN, created_by=username)
        key, token = _new_key(user, "bootstrap", issued_by=username)
        position = self._save([user, key, Installation(user.id)], None)
        return Recorded(position, user.id, key.key_id, api_key=token)

    def _hashable(self, actor: Actor, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """An e-mail is hashed for an idempotent request only under its user's subject key: a plain SHA-256 of the
        request, recorded for ever, would let anyone holding the ledger (or a bundle) confirm a guessed address of
        a user long after the erasure of their personal data. A caller who may not create users is refused
        whatever the address, so theirs is not hashed at all: the keyed hash would make a subject key, a write
        that a refused caller must not cause."""
        email = arguments.get("email") if command == "create_user" else None
        if email is None:
            return super()._hashable(actor, command, arguments)  # other areas' commands may hide their own secrets
        if not allowed(actor.role, Action.MANAGE_USERS):
            return {**arguments, "email": "[refused]"}
        if self.vault is None:  # the command refuses an e-mail without a vault anyway
            return {**arguments, "email": "[no vault]"}
        check_text(email, "an e-mail address", max_length=MAX_EMAIL)
        subject = str(user_id_for(check_username(arguments["username"])))
        return {**arguments, "email": "mac:" + self.vault.digest(subject, email)}

    def is_installed(self) -> bool:
        """Whether the first superadmin exists."""
        return self._exists(INSTALLATION_ID)

    def authenticate(self, token: str) -> Actor:
        """The actor behind an API key; unknown, malformed and revoked keys are refused alike."""
        key_id = parse_api_key(token)
        try:
            key: ApiKey = self.repository.get(api_key_id_for(key_id))
        except AggregateNotFoundError:
            raise Unauthenticated("the API key is not valid") from None
        key.check_key(token)
        user = self._get(key.user_id, User, "user")
        if not user.active:
            raise Unauthenticated("the user of this API key is deactivated")
        return Actor(user.id, user.username, user.role)

    def _user(self, username: str) -> User:
        return self._get(user_id_for(check_username(username)), User, "user")

    @command(Action.MANAGE_USERS, "user", "username")
    def create_user(self, actor: Actor, username: str, role: str, *, email: str | None = None) -> Pending:
        """A user; their e-mail, personal data, is stored only encrypted under the user's own subject key."""
        check_username(username)
        parsed = Role.parse(role)
        if self._exists(user_id_for(username)):
            raise Conflict(f"user {username} already exists")
        identity = None
        if email is not None:
            if "@" not in check_text(email, "an e-mail address", max_length=MAX_EMAIL):
                raise InvalidInput(f"an e-mail address has an '@' and at most {MAX_EMAIL} characters")
            if self.vault is None:
                raise InvalidInput("this service has no subject-key vault configured for personal data")
            identity = self.vault.encrypt(str(user_id_for(username)), email)
        user = User(username, parsed, created_by=actor.username, identity=identity)
        return pending(user, id=user.id)

    @query(Action.MANAGE_USERS, "user", "username")
    def user_email(self, actor: Actor, username: str) -> str | None:
        """The user's e-mail, decrypted; "[erased]" once their subject key is destroyed."""
        user = self._user(username)
        if user.identity is None or self.vault is None:
            return None
        return self.vault.decrypt(user.identity)

    def _knows_subject(self, subject: str) -> bool:
        """A data subject is a user of this ledger, one whose key the vault holds, or one already erased."""
        try:
            user_id = UUID(subject)
            if str(user_id) == subject:  # the canonical form only: keys and erasures are filed under it
                self._get(user_id, User, "user")
                return True
        except (ValueError, NotFound):
            pass
        return self._exists(Erasure.create_id(subject)) or (self.vault is not None and self.vault.knows(subject))

    @command(Action.MANAGE_USERS, "data_subject", "subject")
    def erase_subject(self, actor: Actor, subject: str, *, reason: str) -> Pending:
        """Record SubjectErased, then destroy the subject's key (again, if an earlier attempt stopped halfway)."""
        vault = self.vault
        if vault is None:
            raise InvalidInput("this service has no subject-key vault configured")
        check_text(subject, "a data subject id", max_length=200)
        reason = check_text(reason, "an erasure's reason (for example the request's reference)", max_length=2_000).strip()
        if not self._knows_subject(subject):
            raise NotFound(f"no data subject {subject} in this ledger or its key vault")
        if self._exists(Erasure.create_id(subject)):  # recorded already: only finish destroying the key
            return pending(key_destroyed=vault.erase(subject))
        return pending(Erasure(subject, actor.username, reason), key_destroyed=vault.knows(subject),
                       then=lambda: vault.erase(subject))

    @command(Action.MANAGE_USERS, "user", "username")
    def change_role(self, actor: Actor, username: str, role: str) -> Pending:
        """Another user's role. A superadmin never changes their own: only a superadmin changes roles, so the one who
        acts stays one, and the ledger can never be left without a superadmin (nor a key able to issue keys)."""
        user = self._user(username)
        parsed = Role.parse(role)
        if user.id == actor.user_id and parsed is not actor.role:
            raise PreconditionFailed("a superadmin may not change their own role; another superadmin may")
        user.change_role(parsed, actor.username)
        return pending(user, id=user.id)

    @command(Action.MANAGE_USERS, "user", "username")
    def issue_api_key(self, actor: Actor, username: str, label: str) -> Pending:
        """A new key, answered this once (`api_key`) and stored only as its hash."""
        user = self._user(username)
        key, token = _new_key(user, check_text(label or "", "a key's label", max_length=200, required=False),
                              issued_by=actor.username)
        return pending(user, key, id=user.id, key_id=key.key_id, api_key=token)

    @command(Action.MANAGE_USERS, "api_key", "key_id")
    def revoke_api_key(self, actor: Actor, key_id: str) -> Pending:
        key = self._get(api_key_id_for(check_text(key_id, "a key id", max_length=64)), ApiKey, "API key")
        user = self._get(key.user_id, User, "user")
        if user.id == actor.user_id and not any(not k["revoked"] for kid, k in user.keys.items() if kid != key_id):
            raise PreconditionFailed("this is your last API key: issue yourself another before revoking it, so a "
                                     "superadmin can still act")
        key.revoke(actor.username)
        user.record_key_revoked(key_id, actor.username)
        return pending(key, user, id=user.id, key_id=key_id)

    @query(Action.MANAGE_USERS, "user", "username")
    def list_api_keys(self, actor: Actor, username: str) -> list[dict[str, Any]]:
        return [{"key_id": k, **v} for k, v in self._user(username).keys.items()]
