"""Group commit: concurrent callers share transactions, each is answered with its own committed events only once they
are committed, and a failure stays with the callers it belongs to. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from domain.application import Governance
from ledger.database import Database
from ledger.errors import EventTooLarge, InvalidArgument
from ledger.group_commit import (
    AlreadyRecorded,
    CommitFailed,
    Committed,
    CommitUnknown,
    GroupCommitter,
)
from ledger.verify import verify_store

from .helpers import query, seal_all

THREADS = 50
PER_THREAD = 20


class Scored(Aggregate):
    """A prediction's stand-in: a brand-new aggregate with one event, its id chosen by the caller."""

    @event("Made")
    def __init__(self, id: UUID, model: str, score: float) -> None:
        self.model = model
        self.score = score


def scored(ident: UUID | None = None, *, note: str = "") -> Scored:
    return Scored(id=ident or uuid4(), model=f"credit {note}", score=0.5)


class Writes:
    """Stands in the recorder's insert_events: counts the transactions (events in each), and while held keeps the
    writer waiting before its next one, so that the test decides who shares a group."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self.real = recorder.insert_events
        self.released = threading.Event()
        self.released.set()
        self.waiting = threading.Event()
        self.after: Callable[[Any], Any] = lambda ids: ids
        monkeypatch.setattr(recorder, "insert_events", self)

    def __call__(self, stored: Any, **kwargs: Any) -> Any:
        self.waiting.set()
        assert self.released.wait(30)
        self.sizes.append(len(stored))
        return self.after(self.real(stored, **kwargs))

    def hold(self) -> None:
        self.released.clear()
        self.waiting.clear()


@pytest.fixture
def app(db: Database) -> Iterator[Governance]:
    app = Governance(env=db.eventsourcing_env())
    yield app
    app.close()


@pytest.fixture
def writes(app: Governance, monkeypatch: pytest.MonkeyPatch) -> Writes:
    return Writes(app.recorder, monkeypatch)


@pytest.fixture
def committer(app: Governance) -> Iterator[GroupCommitter]:
    committer = GroupCommitter(app, name="test group commit")
    yield committer
    committer.close()


class Caller(threading.Thread):
    """Submits in its own thread; keeps the answer or the error."""

    def __init__(self, committer: GroupCommitter, aggregates: list[Scored], timeout: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.committer, self.aggregates, self.timeout = committer, aggregates, timeout
        self.result: list[Committed] | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.committer.submit(self.aggregates, timeout=self.timeout)
        except Exception as e:  # noqa: BLE001 - handed back to the test
            self.error = e

    def outcome(self) -> Any:
        self.join(30)
        assert not self.is_alive()
        return self.result if self.error is None else type(self.error)


def queued(committer: GroupCommitter, count: int) -> None:
    """Wait until `count` submissions are queued behind the held writer, so they form its next group together."""
    deadline = time.monotonic() + 10
    while len(committer._queue) < count:
        assert time.monotonic() < deadline, f"{len(committer._queue)} of {count} submissions queued"
        time.sleep(0.005)


def held_writer(committer: GroupCommitter, writes: Writes, timeout: float = 30.0) -> Caller:
    """A first caller whose transaction the writer is about to start, held back until writes.released is set."""
    writes.hold()
    first = Caller(committer, [scored(note="first")], timeout)
    assert writes.waiting.wait(10)
    return first


def stored(db: Database) -> dict[int, tuple[UUID, bytes]]:
    """Every stored event: position → (aggregate id, stored leaf hash)."""
    rows = query(db, f"SELECT {db.nid_column}, originator_id, leaf_hash FROM ledger_events")
    return {nid - 1: (UUID(str(oid)), bytes(leaf)) for nid, oid, leaf in rows}


def test_fifty_threads_each_get_their_own_committed_events_from_far_fewer_transactions(db, app, writes, committer,
                                                                                        signer):
    answers: list[tuple[list[Scored], list[Committed]]] = []
    errors: list[Exception] = []

    def caller(thread: int) -> None:
        for i in range(PER_THREAD):
            # A prediction, and every third time two shadow predictions: each caller's answers follow its aggregates.
            aggregates = [scored(note=f"{thread}/{i}/{k}") for k in range(3 if i % 3 == 0 else 1)]
            try:
                answers.append((aggregates, committer.submit(aggregates)))
            except Exception as e:  # noqa: BLE001 - handed back to the test
                errors.append(e)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and len(answers) == THREADS * PER_THREAD

    in_store = stored(db)
    events = sum(len(aggregates) for aggregates, _ in answers)
    assert sorted(in_store) == list(range(events)) == sorted(c.position for _, got in answers for c in got)
    for aggregates, got in answers:
        assert [c.originator_id for c in got] == [a.id for a in aggregates]
        assert [c.timestamp for c in got] == [a.created_on for a in aggregates]
        for c in got:
            assert in_store[c.position] == (c.originator_id, c.leaf_hash)
            assert c.originator_version == 1 and len(c.leaf_hash) == 32
        assert all(a.pending_events == [] for a in aggregates)  # collected, as save() does
    assert sum(writes.sizes) == events
    assert len(writes.sizes) <= len(answers) / 5, f"{len(writes.sizes)} transactions for {len(answers)} callers"

    assert seal_all(db, signer) == events
    with db.connect() as conn:
        assert verify_store(db, conn, signer.verifier).events == events


def test_a_transaction_the_database_refuses_fails_every_caller_of_its_group_and_records_nothing(
        db, app, writes, committer):
    committer.submit([scored(note="before")])
    poison = uuid4()
    first = held_writer(committer, writes)
    group = [Caller(committer, [scored(note=f"innocent {i}")]) for i in range(5)]
    queued(committer, 5)
    last = Caller(committer, [scored(poison, note="refused")])  # its rows come after the innocents' in the insert
    queued(committer, 6)
    refuse_inserts_of(db, poison)
    writes.released.set()

    assert isinstance(first.outcome()[0], Committed)
    assert [c.outcome() for c in group + [last]] == [CommitFailed] * 6
    assert writes.sizes == [1, 1, 6]
    assert sorted(stored(db)) == [0, 1]  # "before" and the first: nothing of the refused group
    assert all(len(c.aggregates[0].pending_events) == 1 for c in group)  # kept, to be submitted again

    allow_inserts(db)
    again = committer.submit([a for c in group + [last] for a in c.aggregates])
    assert [c.position for c in again] == [2, 3, 4, 5, 6, 7]


def test_a_duplicate_id_fails_only_its_caller_and_the_rest_of_its_group_commits(db, app, writes, committer):
    recorded = committer.submit([scored(note="earlier")])[0].originator_id
    racing = uuid4()
    first = held_writer(committer, writes)
    callers = [Caller(committer, [scored(note=f"neighbour {i}")]) for i in range(3)]
    queued(committer, 3)
    callers.append(Caller(committer, [scored(recorded, note="replayed")]))  # an id already in the store
    queued(committer, 4)
    callers.append(Caller(committer, [scored(racing, note="racer 1")]))  # two requests racing with one id
    queued(committer, 5)
    callers.append(Caller(committer, [scored(note="neighbour 4"), scored(racing, note="racer 2")]))
    queued(committer, 6)
    writes.released.set()

    outcomes = [c.outcome() for c in callers]
    assert [o if isinstance(o, type) else len(o) for o in outcomes] == [1, 1, 1, AlreadyRecorded, 1, AlreadyRecorded]
    assert callers[3].error.ids == (recorded,) and callers[5].error.ids == (racing,)  # type: ignore[union-attr]
    # earlier; first; the group (racer 2's caller deferred from it), refused for the replay; again without the replay;
    # racer 2's caller alone, refused, with nobody left to retry.
    assert writes.sizes == [1, 1, 5, 4, 2]
    in_store = stored(db)
    assert len(in_store) == 1 + 1 + 4
    assert in_store[outcomes[4][0].position][0] == racing
    assert first.outcome()[0].position in in_store


def test_a_submission_refused_before_it_is_queued_fails_alone(app, committer):
    huge = Scored(id=uuid4(), model="x" * 300_000, score=0.5)
    with pytest.raises(EventTooLarge):
        committer.submit([scored(), huge])
    with pytest.raises(InvalidArgument):
        committer.submit([])
    twice = scored()
    with pytest.raises(InvalidArgument):
        committer.submit([twice, twice])
    assert committer.submit([scored()])[0].position == 0


def test_close_answers_the_transaction_in_flight_and_fails_the_callers_still_queued(db, app, writes):
    committer = GroupCommitter(app)
    first = held_writer(committer, writes)
    waiting = [Caller(committer, [scored(note=f"waiting {i}")]) for i in range(5)]
    queued(committer, 5)
    closing = threading.Thread(target=committer.close)
    closing.start()
    writes.released.set()
    closing.join(30)

    assert first.outcome()[0].position == 0
    assert [c.outcome() for c in waiting] == [CommitFailed] * 5
    with pytest.raises(CommitFailed):
        committer.submit([scored()])
    assert sorted(stored(db)) == [0]


def test_a_caller_that_stops_waiting_while_queued_is_never_written_and_one_in_flight_is_told_the_outcome_is_unknown(
        db, app, writes, committer):
    in_flight = held_writer(committer, writes, timeout=0.3)
    in_queue = Caller(committer, [scored(note="queued")], timeout=0.3)
    assert in_queue.outcome() is CommitFailed
    assert in_flight.outcome() is CommitUnknown
    writes.released.set()
    after = committer.submit([scored(note="after")])

    assert stored(db)[0][0] == in_flight.aggregates[0].id and after[0].position == 1  # the queued one: never written
    with pytest.raises(AlreadyRecorded):  # the one in flight had committed: submitting it again says so
        committer.submit(in_flight.aggregates)


def test_a_writer_that_fails_unexpectedly_answers_its_callers_and_keeps_writing(db, app, writes, committer):
    writes.after = lambda ids: None  # a recorder that stored the events but lost their ids: a bug after the commit
    with pytest.raises(CommitUnknown):
        committer.submit([lost := scored()])
    writes.after = lambda ids: ids
    assert committer.submit([scored()])[0].position == 1
    with pytest.raises(AlreadyRecorded):
        committer.submit([lost])


def test_the_committer_refuses_an_application_without_the_chained_recorders():
    from eventsourcing.application import Application

    with pytest.raises(InvalidArgument):
        GroupCommitter(Application())


def refuse_inserts_of(db: Database, poison: UUID) -> None:
    """A trigger that refuses the poison id's insert, so the rows inserted before it in the transaction are undone."""
    with db.connect() as conn:
        if db.is_sqlite:
            conn.execute(f"CREATE TRIGGER refuse_poison BEFORE INSERT ON ledger_events WHEN NEW.originator_id = '{poison.hex}'"
                         " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            conn.execute("CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                         f" IF NEW.originator_id = '{poison}' THEN RAISE EXCEPTION 'refused by the test'; END IF;"
                         " RETURN NEW; END $$")
            conn.execute("CREATE TRIGGER refuse_poison BEFORE INSERT ON ledger_events"
                         " FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
            conn.commit()


def allow_inserts(db: Database) -> None:
    with db.connect() as conn:
        conn.execute("DROP TRIGGER refuse_poison" + ("" if db.is_sqlite else " ON ledger_events"))
        if not db.is_sqlite:
            conn.commit()
