"""Group commit: many callers' new events in one chained transaction, each caller answered once it has committed.

One transaction per event is bound by the disk's commit rate (hundreds to ~1,000 a second); one per group of events
is not. A `GroupCommitter` has one writer thread. Callers `submit` their aggregates and block; the writer takes
whatever has queued (up to `max_batch` submissions), inserts it in one transaction through the application's chained
recorder — so every event is leaf-hashed and chained under the write lock, as by any save — and answers each caller
with its own events' positions and leaf hashes. While a transaction is in flight the next group queues: the batching
comes from the commit latency itself, not from a timer.

Failures stay with whom they belong:
- encoding and the size bound are checked in the caller's thread before it joins a group, so an oversized event fails
  its own caller alone;
- two submissions of one group naming the same (aggregate id, version) never share a transaction: the later waits for
  the next group, where it finds the first recorded (AlreadyRecorded) or not (it is written);
- an IntegrityError is looked into with one query for the group's keys: callers whose events the store already holds
  get AlreadyRecorded, and the group is written again without them; one that no stored key explains fails the group;
- any other failure of the transaction fails every caller of the group with CommitFailed: it recorded nothing.

It writes through the recorder, not `Application.save`, so that the steps that can fail for one caller run before
the group forms; it takes no snapshots, fills no repository cache and calls no `_notify` (the governance application
uses none of them). On success the aggregates' pending events are collected, as save() does; on failure they stay
pending, so the caller may submit them again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from .errors import AlreadyRecorded, CommitFailed, CommitUnknown, InvalidArgument, cause
from .recorders import (
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
    check_sizes,
    leaf_hash,
)

__all__ = ["AlreadyRecorded", "CommitFailed", "CommitUnknown", "Committed", "GroupCommitter"]

log = logging.getLogger(__name__)
Key = tuple[Any, int]  # (originator id, originator version): what the store keeps unique


@dataclass(frozen=True)
class Committed:
    """One recorded event: its ledger position (notification id − 1), its leaf hash as stored, whose event it is, and
    the event's own time (recorded in its state and covered by the leaf; the ledger keeps no other time)."""

    position: int
    leaf_hash: bytes
    originator_id: UUID
    originator_version: int
    timestamp: datetime


class _Submission:
    """One caller's events, encoded and hashed in the caller's thread; `future` resolves to their Committed list."""

    __slots__ = ("future", "keys", "leaves", "stored", "timestamps")

    def __init__(self, stored: list[StoredEvent], timestamps: list[datetime]) -> None:
        self.stored = stored
        self.keys: list[Key] = [(s.originator_id, s.originator_version) for s in stored]
        self.leaves = [leaf_hash(s) for s in stored]
        self.timestamps = timestamps
        self.future: Future[list[Committed]] = Future()

    def committed(self, notification_ids: Sequence[int]) -> list[Committed]:
        return [Committed(nid - 1, leaf, oid, version, at)
                for nid, leaf, (oid, version), at in zip(notification_ids, self.leaves, self.keys, self.timestamps,
                                                          strict=True)]


def _settle(future: Future[list[Committed]], error: Exception) -> None:
    try:
        future.set_exception(error)
    except InvalidStateError:  # already answered, or given up by its caller
        pass


class GroupCommitter:
    """Records concurrent callers' new aggregates in shared transactions; see the module's docstring.

    `max_batch` bounds the submissions of one transaction. `max_wait_s`, when above zero, is how long the writer
    lingers for company after the first submission reaches an idle writer; under load the queue is never empty and
    it never waits."""

    def __init__(self, app: Application[Any], *, max_batch: int = 500, max_wait_s: float = 0.0,
                 name: str = "group commit") -> None:
        if not isinstance(app.recorder, (ChainedSQLiteApplicationRecorder, ChainedPostgresApplicationRecorder)):
            raise InvalidArgument("group commit needs the chained recorders (Database.eventsourcing_env())")
        if max_batch < 1 or not 0 <= max_wait_s < 1:
            raise InvalidArgument("max_batch must be at least 1 and max_wait_s in [0, 1) seconds")
        self.name = name
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._mapper = app.mapper
        self._recorder = app.recorder
        self._queue: deque[_Submission] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._run, name=name, daemon=True)
        self._writer.start()

    def submit(self, aggregates: Sequence[Aggregate], timeout: float = 10.0) -> list[Committed]:
        """Record the aggregates' pending events in the next group's transaction and return once it committed: one
        Committed per event, in the order of the aggregates and of their events.

        Raises, having recorded nothing: InvalidArgument or EventTooLarge (before queueing), CommitFailed. Raises
        AlreadyRecorded when the store holds one of these events already, and CommitUnknown when `timeout` ended while
        the transaction was in flight (submit the same aggregates again to learn which)."""
        submission = self._prepare(aggregates)
        with self._cond:
            if self._closed:
                raise CommitFailed(f"{self.name} is closed; nothing was recorded")
            self._queue.append(submission)
            self._cond.notify()
        committed = self._wait(submission, timeout)
        for aggregate in aggregates:
            aggregate.collect_events()
        return committed

    def close(self, timeout: float = 30.0) -> None:
        """Stop: the transaction in flight completes and answers its callers; those still queued get CommitFailed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._writer is not threading.current_thread():
            self._writer.join(timeout)
        self._fail_queued()

    # -- the callers' side ---------------------------------------------------------------------------------

    def _prepare(self, aggregates: Sequence[Aggregate]) -> _Submission:
        events = [e for a in aggregates for e in a.pending_events]
        if not events:
            raise InvalidArgument("nothing to record: the aggregates have no pending events")
        stored = [self._mapper.to_stored_event(e) for e in events]
        check_sizes(stored, self._recorder.max_event_bytes)
        submission = _Submission(stored, [e.timestamp for e in events])
        if len(set(submission.keys)) != len(submission.keys):
            # It would fail its whole group's transaction; refuse it here, alone.
            raise InvalidArgument("one submission names the same aggregate version twice")
        return submission

    def _wait(self, submission: _Submission, timeout: float) -> list[Committed]:
        future = submission.future
        try:
            return future.result(timeout)
        except TimeoutError:
            pass
        if future.cancel():  # still queued: the writer will skip it
            raise CommitFailed(f"not written within {timeout:g} s ({self.name} is behind); nothing was recorded")
        try:
            return future.result(0)
        except TimeoutError:
            raise CommitUnknown(f"the transaction was still in flight after {timeout:g} s; submit the same ids again:"
                                " AlreadyRecorded then means it committed") from None

    # -- the writer ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        carried: list[_Submission] = []
        try:
            while (group := self._next_group(carried)) is not None:
                group, carried = _without_clashes(group)
                try:
                    self._write(group)
                except BaseException as e:  # a bug, not the database: answer everyone, and keep writing
                    log.exception("%s: unexpected failure writing a group of %d", self.name, len(group))
                    for s in group:
                        _settle(s.future, CommitUnknown("the writer failed unexpectedly; submit the same ids again:"
                                                        " AlreadyRecorded then means it committed"))
                    if not isinstance(e, Exception):
                        raise
        finally:
            with self._cond:
                self._closed = True
                self._queue.extendleft(reversed(carried))
            self._fail_queued()

    def _next_group(self, carried: list[_Submission]) -> list[_Submission] | None:
        """The next submissions to write (`carried` first), or None once closed."""
        with self._cond:
            if not carried and not self._queue:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self.max_wait_s:  # the writer was idle: linger for company, only now
                    deadline = time.monotonic() + self.max_wait_s
                    while len(self._queue) < self.max_batch and not self._closed:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
            if self._closed:
                return None
            group = list(carried)
            while self._queue and len(group) < self.max_batch:
                submission = self._queue.popleft()
                if submission.future.set_running_or_notify_cancel():  # False: its caller gave up waiting
                    group.append(submission)
            return group

    def _write(self, group: list[_Submission]) -> None:
        """One transaction for the group; after an IntegrityError, again without the callers it was about."""
        while group:
            try:
                ids = self._recorder.insert_events([e for s in group for e in s.stored])
            except IntegrityError as e:
                group = self._without_recorded(group, e)
                continue
            except Exception as e:  # noqa: BLE001 - whatever the transaction failed on, it recorded nothing
                log.warning("%s: a group of %d failed: %s", self.name, len(group), cause(e))
                for s in group:
                    _settle(s.future, CommitFailed(f"the transaction failed and recorded nothing: {cause(e)}"))
                return
            assert ids is not None
            start = 0
            for s in group:
                s.future.set_result(s.committed(ids[start : start + len(s.stored)]))
                start += len(s.stored)
            return

    def _without_recorded(self, group: list[_Submission], error: IntegrityError) -> list[_Submission]:
        """Answer AlreadyRecorded to the callers whose events the store holds; the rest, to be written again.
        Fail them all if no stored event explains the error."""
        reason = cause(error)
        try:
            found = self._recorder.recorded([k for s in group for k in s.keys])
        except Exception as e:  # noqa: BLE001 - any failure to look: the group fails, as it would have
            found, reason = set(), f"{reason}; then looking up its events failed: {cause(e)}"
        if not found:
            log.warning("%s: a group of %d failed: %s", self.name, len(group), reason)
            for s in group:
                _settle(s.future, CommitFailed(f"the transaction failed and recorded nothing: {reason}"))
            return []
        rest = []
        for s in group:
            mine = [oid for oid, version in s.keys if (oid, version) in found]
            if mine:
                _settle(s.future, AlreadyRecorded(f"already recorded: {', '.join(map(str, dict.fromkeys(mine)))}",
                                                  ids=tuple(dict.fromkeys(mine))))
            else:
                rest.append(s)
        return rest

    def _fail_queued(self) -> None:
        with self._cond:
            queued = list(self._queue)
            self._queue.clear()
        for s in queued:
            _settle(s.future, CommitFailed(f"{self.name} closed before writing this; nothing was recorded"))


def _without_clashes(group: list[_Submission]) -> tuple[list[_Submission], list[_Submission]]:
    """Split off submissions naming a key an earlier one of the group names: they go in the next group, so that the
    first is committed (or not) before they are judged against it."""
    seen: set[Key] = set()
    now, later = [], []
    for s in group:
        if seen.isdisjoint(s.keys):
            seen.update(s.keys)
            now.append(s)
        else:
            later.append(s)
    return now, later
