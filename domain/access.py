"""Refusals are facts too: every refused command is recorded, so the audit trail shows attempts, not only successes."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Refusal(Aggregate):
    """One refused attempt: who tried what, on what, and why it was refused."""

    @event("AccessDenied")
    def __init__(self, user_id: UUID, username: str, role: str, action: str, subject: str, code: str, reason: str) -> None:
        self.user_id = user_id
        self.username = username
        self.role = role
        self.action = action
        self.subject = subject
        self.code = code
        self.reason = reason
