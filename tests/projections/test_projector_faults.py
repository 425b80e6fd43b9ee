"""One accepted event cannot stop every read model forever, silently: a projector that cannot apply an event stops
loudly (naming its position), keeps what it applied before it, and a rebuild that fails leaves the previous read
models in place. The events are appended below the domain, as anything that got in would be."""

from __future__ import annotations

import hashlib
import threading

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services

from domain.application import Governance
from domain.datasets import Dataset
from ledger.database import Database
from ledger.errors import ProjectionFailed
from ledger.health import WorkersUnhealthy, require_healthy_workers, worker_statuses
from projections.runner import Projector, tracked
from tests.ledger.helpers import fill
from tests.projections.test_read_models import snapshot
from workers.projector import run_projector


def append_unprojectable(app: Governance) -> int:
    """A registration whose row count no read model can hold (beyond int64); returns its position."""
    dataset = Dataset.register(name="huge", source="s3://feed/huge.csv", schema={"a": "float"}, row_count=100,
                               content_hash=hashlib.sha256(b"huge").hexdigest(), registered_by="ds-1")
    stored = app.mapper.to_stored_event(dataset.collect_events()[0])
    state = stored.state.replace(b'"row_count":100', b'"row_count":99999999999999999999999999999')
    assert state != stored.state
    (nid,) = app.recorder.insert_events([type(stored)(stored.originator_id, stored.originator_version, stored.topic, state)])
    return nid - 1


@pytest.fixture
def app(db):
    app = Governance(env=db.eventsourcing_env())
    yield app
    app.close()


def test_an_event_the_read_models_cannot_hold_stops_the_projector_naming_its_position(db, app):
    fill(db, 5)
    bad = append_unprojectable(app)
    fill(db, 2, start=5)
    with pytest.raises(ProjectionFailed, match="the read models cannot hold it") as info:
        Projector(db, app, batch=100).catch_up()
    assert info.value.position == bad == 5
    with db.connect() as conn:
        assert tracked(conn, db) == 5  # the five before it are applied and kept; nothing after it
        assert conn.execute("SELECT COUNT(*) FROM registry_datasets").fetchone()[0] == 5
    with pytest.raises(ProjectionFailed):  # and it stays stopped there: a permanent fault, not a skipped event
        Projector(db, app).catch_up()


def test_a_rebuild_that_fails_leaves_the_previous_read_models_in_place(db, app):
    fill(db, 6)
    Projector(db, app).catch_up()
    before = snapshot(db)
    append_unprojectable(app)
    with pytest.raises(ProjectionFailed):
        Projector(db, app).rebuild()
    assert snapshot(db) == before
    with db.connect() as conn:
        assert tracked(conn, db) == 6


def test_a_projector_worker_that_cannot_apply_an_event_stops_loudly_and_the_service_is_not_ready(db, app, caplog, signer):
    token = app.create_admin("root").api_key
    client = TestClient(create_app(Services(app, db, signer.verifier)))
    assert client.get("/readyz").status_code == 200
    fill(db, 3)
    bad = append_unprojectable(app)
    stop = threading.Event()
    with pytest.raises(ProjectionFailed):
        run_projector(db, app, interval=0.01, stop=stop)
    assert f"projector stopped at position {bad}" in caplog.text
    with db.connect() as conn:
        (status,) = worker_statuses(db, conn)
        assert (status.name, status.state, status.position) == ("projector", "failed", bad)
        with pytest.raises(WorkersUnhealthy, match=f"the projector stopped at position {bad}"):
            require_healthy_workers(db, conn)
    assert client.get("/readyz").json() == {"status": "not_ready"}  # anyone learns only that
    ready = client.get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert ready.status_code == 503, ready.text
    assert f"the projector stopped at position {bad}" in ready.json()["checks"]["workers"]
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'govledger_worker_healthy{state="failed",worker="projector"} 0.0' in metrics


def test_the_projector_worker_survives_another_sqlite_writer_holding_the_lock(sqlite_url, monkeypatch):
    import ledger.database

    monkeypatch.setattr(ledger.database, "SQLITE_BUSY_TIMEOUT_S", 1)
    db = Database.from_url(sqlite_url)
    app = Governance(env=db.eventsourcing_env())
    fill(db, 4)
    stop = threading.Event()
    with db.connect() as blocker:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock longer than the busy timeout
        worker = threading.Thread(target=run_projector, args=(db, app), kwargs={"interval": 0.05, "stop": stop}, daemon=True)
        worker.start()
        worker.join(2.5)
        assert worker.is_alive(), "the projector died on a locked database"
        blocker.execute("ROLLBACK")
    try:
        for _ in range(100):
            with db.connect() as conn:
                if tracked(conn, db) == 4:
                    break
            stop.wait(0.05)
        with db.connect() as conn:
            assert tracked(conn, db) == 4
    finally:
        stop.set()
        worker.join(5)
        app.close()
