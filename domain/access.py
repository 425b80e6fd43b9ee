"""Refusals are facts too: every refused command is recorded, so the audit trail shows attempts, not only successes."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


class Refusal(Aggregate):
    """One refused attempt: who tried what, on what (its kind and id, as readers need them), and why it was refused."""

    @event("AccessDenied")
    def __init__(self, user_id: UUID, username: str, role: str, action: str, subject_kind: str, subject_id: str | None,
                 code: str, reason: str) -> None:
        self.user_id = user_id
        self.username = username
        self.role = role
        self.action = action
        self.subject_kind = subject_kind  # "model", "model_version", "user", "data_subject", … or what a read was of
        self.subject_id = subject_id
        self.code = code
        self.reason = reason

    @property
    def subject(self) -> str:
        """What was refused, as people read it: "model version 1f…"."""
        return f"{self.subject_kind.replace('_', ' ')} {self.subject_id}" if self.subject_id else self.subject_kind


class Erasure(Aggregate):
    """A data subject's personal data was made unreadable by destroying its key (one per subject)."""

    @event("SubjectErased")
    def __init__(self, subject: str, erased_by: str, reason: str) -> None:
        self.subject = subject
        self.erased_by = erased_by
        self.reason = reason

    @staticmethod
    def create_id(subject: str) -> UUID:
        return uuid5(ERASURE_NAMESPACE, subject)


ERASURE_NAMESPACE = UUID("9b1f8f5e-2c1d-4e0a-8a57-3f9e2d6c4b10")
