"""Domain errors: each carries a stable code and a human message, and is raised before anything is recorded
(a refusal records only its AccessDenied event)."""

from __future__ import annotations


def printable(value: object, limit: int = 500) -> str:
    """`value` as text every store and every JSON answer can carry: lone surrogates escaped, NUL dropped, bounded.

    For text recorded or answered whatever the caller sent (refusals, error messages)."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "")
    return text if len(text) <= limit else text[:limit] + "…"


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str) -> None:
        message = printable(message, 2_000)  # messages quote input, and are answered as JSON and recorded
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """Another command changed the aggregate first, or the thing already exists."""

    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Refused(DomainError):
    """A command the rules refuse; the refusal itself is recorded as an AccessDenied event."""

    code = "refused"


class Forbidden(Refused):
    code = "forbidden"


class SegregationOfDuties(Refused):
    code = "segregation_of_duties"


class IllegalTransition(Refused):
    code = "illegal_transition"


class PreconditionFailed(Refused):
    """The lifecycle allows the step, but its evidence is missing (no batch run, incomplete mandatory sections…)."""

    code = "precondition_failed"


class ArtifactMismatch(DomainError):
    code = "artifact_hash_mismatch"


class IdempotencyKeyReused(DomainError):
    """The caller sent this idempotency key before, with a different request."""

    code = "idempotency_key_reused"
