"""Domain errors: each carries a stable code and a human message, and is raised before anything is recorded
(a refusal records only its AccessDenied event)."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str) -> None:
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
