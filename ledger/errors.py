"""Errors of the store, each with a stable code that the CLI and the API show beside the message."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of the store's errors. `code` is stable; the message is for people and holds no secret."""

    code = "ledger_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(LedgerError):
    code = "invalid_argument"


class ConfigError(LedgerError):
    code = "config_invalid"


class DatabaseUnavailable(LedgerError):
    code = "database_unavailable"


class SchemaError(LedgerError):
    """The database schema is missing, behind, or written by a newer govledger."""

    code = "schema_mismatch"


class SigningKeyError(LedgerError):
    code = "signing_key_invalid"


class EventTooLarge(LedgerError):
    """An event whose stored form exceeds the configured bound: events are small facts, large content goes elsewhere."""

    code = "event_too_large"


class NothingSigned(LedgerError):
    """There is no signed checkpoint to verify the store against: verification fails closed, it never reports OK."""

    code = "nothing_signed"


class ProjectionFailed(LedgerError):
    """The projector cannot apply the event at `position`: a permanent fault, retrying would fail again."""

    code = "projection_failed"

    def __init__(self, message: str, *, position: int) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position


class WorkerFailed(LedgerError):
    """A worker stopped on a fault that is not the store's own (a bug): logged with its traceback, then reported here."""

    code = "worker_failed"


class IntegrityFailure(LedgerError):
    """`verify` found the store altered. `position`, `aggregate` and `version` name the first bad event when known."""

    code = "integrity_failure"

    def __init__(self, message: str, *, position: int | None = None, aggregate: str | None = None,
                 version: int | None = None, notification_id: int | None = None) -> None:
        where = []
        if position is not None:
            where.append(f"position {position}")
        if notification_id is not None:
            where.append(f"notification {notification_id}")
        if aggregate is not None:
            where.append(f"aggregate {aggregate} version {version}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.position = position
        self.aggregate = aggregate
        self.version = version
        self.notification_id = notification_id


def cause(e: Exception) -> str:
    """A driver's message ends with the cause; earlier lines may repeat the query. Never holds a password:
    the drivers name the server, the user and the database, not the credentials."""
    text = str(e).strip()
    return text.splitlines()[-1] if text else type(e).__name__


class CommitFailed(LedgerError):
    """A group commit's transaction failed (database down, lock timeout, a constraint), or the committer closed or
    the wait in its queue ended before the write began: nothing of the submission was recorded; it may be retried."""

    code = "commit_failed"


class CommitUnknown(LedgerError):
    """The wait ended while the submission's transaction was in flight: it may yet commit. Submit the same ids again:
    AlreadyRecorded then means it did."""

    code = "commit_unknown"


class AlreadyRecorded(LedgerError):
    """The store already holds an event of this submission (same aggregate id and version): a replay, or a race
    between two requests with the same id. `ids` names the aggregates found, so the caller can look them up."""

    code = "already_recorded"

    def __init__(self, message: str, *, ids: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.ids = ids
