"""What every job shares, whatever its work (training, batch inference): its states and the rules of its attempts.

A job is requested (queued), started by a worker (running; a worker whose lease ran out is replaced by another,
which starts it again with the next attempt number), and ends exactly once: succeeded, failed with the reason, or
cancelled by its requester. Only the worker of the latest attempt may end it, so a worker that lost its lease can
never record a second outcome. Each kind of job is an aggregate of its own, with its own events (their names say
what kind of job they are about); this mixin holds the rules its event methods share.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from uuid import UUID

from .errors import Forbidden, IllegalTransition, InvalidInput
from .inputs import check_text

_WORKER = re.compile(r"^[\x21-\x7e]{1,200}$")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class JobLifecycle:
    """The attempts and the one outcome of a job. The aggregate defines `_started`, `_failed` and `_cancelled`
    (its events), calls `queued()` in its constructor and `running()` in `_started`, and names itself in `what`."""

    what = "job"
    id: UUID
    modified_on: Any
    requested_by: UUID
    state: JobState
    attempt: int
    worker: str | None

    def queued(self) -> None:
        self.state = JobState.QUEUED
        self.attempt = 0
        self.worker = None
        self.started_at: Any = None
        self.result: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None

    def running(self, worker: str, attempt: int) -> None:
        self.state, self.worker, self.attempt = JobState.RUNNING, worker, attempt
        self.started_at = self.modified_on

    def _check_open(self, doing: str) -> None:
        if self.state in FINAL:
            raise IllegalTransition(f"{self.what} {self.id} is {self.state}; it cannot {doing}")

    def check_worker(self, worker: str, attempt: int) -> None:
        """Only the worker of the latest attempt may end a running job."""
        self._check_open("end again")
        if self.state is not JobState.RUNNING or (self.worker, self.attempt) != (worker, attempt):
            raise IllegalTransition(f"{self.what} {self.id} is attempt {self.attempt} of {self.worker}, "
                                    f"not attempt {attempt} of {worker}")

    def start(self, *, worker: str, attempt: int, lease_seconds: float) -> None:
        self._check_open("start")
        if not isinstance(worker, str) or not _WORKER.match(worker):
            raise InvalidInput("a worker's name is 1 to 200 printable ASCII characters")
        if attempt != self.attempt + 1:
            raise IllegalTransition(f"{self.what} {self.id} is at attempt {self.attempt}; the next is {self.attempt + 1}")
        self._started(worker, attempt, float(lease_seconds))  # type: ignore[attr-defined]

    def fail(self, *, worker: str, attempt: int, code: str, reason: str) -> None:
        self.check_worker(worker, attempt)
        self._failed(worker, attempt, check_text(code, "an error code", max_length=100),  # type: ignore[attr-defined]
                     check_text(reason, "a failure's reason", max_length=2_000))

    def cancel(self, *, by: UUID, by_name: str, reason: str) -> None:
        """Only the job's requester may cancel it, and only while it has not ended."""
        if by != self.requested_by:
            raise Forbidden(f"{by_name} did not request {self.what} {self.id}; only its requester may cancel it")
        self._check_open("be cancelled")
        self._cancelled(by, by_name,  # type: ignore[attr-defined]
                        check_text(reason, "a cancellation's reason", max_length=2_000, required=False))

    def failed(self, code: str, reason: str) -> None:
        self.state = JobState.FAILED
        self.error = {"code": code, "message": reason}

    def cancelled(self, by_name: str, reason: str) -> None:
        self.state = JobState.CANCELLED
        self.error = {"code": "cancelled", "message": f"cancelled by {by_name}" + (f": {reason}" if reason else "")}
