"""The read models: each event applied exactly once, a rebuild identical to the incremental projection, and every
as-of answer equal to a replay of the events up to that position (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from domain.application import Governance
from domain.models import Model
from ledger.database import Database
from migrations.read_models import TABLES
from projections.compliance import MODEL_INPUTS, score_view, scores
from projections.queries import AUDIT_COLUMNS, VERSION_COLUMNS, Query
from projections.runner import Projector, tracked
from tests.projections.story import story

ORDER = {"registry_models": "model_id, valid_from", "registry_versions": "version_id, valid_from",
         "registry_datasets": "dataset_id", "registry_users": "user_id, valid_from",
         "audit_trail": "notification_id", "jobs": "valid_from, job_id", "deployments": "deployment_id, valid_from",
         "routing_configs": "routing_config_id, valid_from", "predictions": "notification_id"}


def snapshot(db: Database) -> dict[str, list[tuple]]:
    with db.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY {ORDER[t]}").fetchall()] for t in TABLES}


def test_incremental_catch_up_and_a_full_rebuild_give_identical_read_models(db):
    projector = Projector(db, Governance(env=db.eventsourcing_env()), batch=7)
    app = story(db, after_each=projector.catch_up, with_training=True)
    projector.catch_up()
    incremental = snapshot(db)
    assert all(incremental[t] for t in TABLES), f"empty read models: {[t for t in TABLES if not incremental[t]]}"
    end = app.recorder.max_notification_id()
    assert Projector(db, app).rebuild() == end
    assert snapshot(db) == incremental
    with db.connect() as conn:
        assert tracked(conn, db) == end


def test_catching_up_twice_applies_nothing_twice(db):
    app = story(db, with_training=True)
    Projector(db, app).catch_up()
    first = snapshot(db)
    Projector(db, app).catch_up()
    assert snapshot(db) == first
    with db.connect() as conn:
        count = conn.execute("SELECT COUNT(*), MIN(notification_id), MAX(notification_id) FROM audit_trail").fetchone()
    assert tuple(count) == (app.recorder.max_notification_id(), 1, app.recorder.max_notification_id())


def test_a_rebuild_until_a_position_stops_there(db):
    app = story(db)
    middle = app.recorder.max_notification_id() // 2
    assert Projector(db, app).rebuild(until=middle) == middle
    with db.connect() as conn:
        assert tracked(conn, db) == middle
        assert conn.execute("SELECT MAX(notification_id) FROM audit_trail").fetchone()[0] == middle


class Replay:
    """The answers a full replay of the events up to notification `nid` gives, computed from the event store alone."""

    def __init__(self, app: Governance) -> None:
        self.app = app
        self.notifications = app.recorder.select_notifications(start=1, limit=10**6)

    def at(self, aggregate_id, nid):
        events = [n for n in self.notifications if n.originator_id == aggregate_id and n.id <= nid]
        return self.app.repository.get(aggregate_id, version=events[-1].originator_version) if events else None

    def models(self, nid):
        ids = {n.originator_id for n in self.notifications if n.topic.endswith("Model.Registered") and n.id <= nid}
        return [m for m in (self.at(i, nid) for i in ids) if isinstance(m, Model)]

    def answers(self, nid):
        versions, scores = {}, {}
        for model in self.models(nid):
            latest = None
            for vid in model.version_ids:
                version = self.at(vid, nid)
                if version is not None:
                    versions[str(vid)] = (version.status.value, str(model.id), version.number)
                    latest = version
            view = score_view(model, latest)
            scores[str(model.id)] = (view["score"], view["risk_tier"], view["breakdown"], view["sections"])
        return versions, scores


def test_every_as_of_answer_equals_a_replay_to_that_position(db):
    app = story(db, with_training=True)
    Projector(db, app).catch_up()
    replay = Replay(app)
    end = app.recorder.max_notification_id()
    with db.connect() as conn:
        for nid in range(1, end + 1):
            p = db.param()
            rows, _ = Query(p).valid_at(nid).fetch(conn, "registry_versions", VERSION_COLUMNS, ("version_id",), None, 1000)
            projected_versions = {r["version_id"]: (r["status"], r["model_id"], r["number"]) for r in rows}
            models, _ = Query(p).valid_at(nid).fetch(conn, "registry_models", MODEL_INPUTS, ("model_id",), None, 1000)
            projected_scores = {r["model_id"]: (r["score"], r["risk_tier"], r["breakdown"], r["sections"])
                                for r in scores(conn, p, nid, models)}
            assert (projected_versions, projected_scores) == replay.answers(nid), f"as of notification {nid}"
            audit, _ = Query(p).add(f"notification_id <= {p}", nid).fetch(conn, "audit_trail", AUDIT_COLUMNS,
                                                                           ("notification_id",), None, 10**6)
            assert [a["notification_id"] for a in audit] == list(range(1, nid + 1))


def test_the_audit_trail_names_who_acted_on_what_and_keeps_refusals(db):
    app = story(db)
    Projector(db, app).catch_up()
    with db.connect() as conn:
        rows, _ = Query(db.param()).fetch(conn, "audit_trail", AUDIT_COLUMNS, ("notification_id",), None, 10**6)
    assert all(r["actor"] for r in rows), [r for r in rows if not r["actor"]]
    refused = [r for r in rows if r["outcome"] == "refused"]
    assert len(refused) == 3 and {r["actor"] for r in refused} == {"dana"} and {r["action"] for r in refused} == {"approve"}
    assert all(r["model_id"] for r in refused)
    approvals = [r for r in rows if r["event_type"] == "ModelVersion.Approved"]
    assert {r["actor"] for r in approvals} == {"mia"} and len(approvals) == 3
    assert {r["event_type"] for r in rows if r["data_subject"]} >= {"User.Created", "User.RoleChanged"}


def test_jobs_hold_each_training_jobs_state_as_of_any_position(db):
    app = story(db, with_training=True)
    Projector(db, app).catch_up()
    with db.connect() as conn:
        rows = conn.execute("SELECT state, attempt, worker, error, result FROM jobs WHERE kind = 'training' AND valid_to IS NULL"
                            " ORDER BY created, job_id").fetchall()
        history = conn.execute("SELECT state FROM jobs WHERE kind = 'training' ORDER BY valid_from").fetchall()
    states = sorted((r[0], r[1], r[2]) for r in rows)
    assert states == [("cancelled", 0, None), ("failed", 1, "w2"), ("succeeded", 2, "w2")]
    assert [h[0] for h in history].count("running") == 3, "each start (the takeover too) is a version of the row"
    done = next(r for r in rows if r[0] == "succeeded")
    assert json.loads(done[4])["leaderboard"][0]["family"] == "hist_gradient_boosting"


def test_jobs_hold_every_batch_run_with_its_result(db):
    app = story(db)
    Projector(db, app).catch_up()
    with db.connect() as conn:
        jobs = conn.execute("SELECT job_id, state, requested_by, result, kind FROM jobs WHERE kind = 'batch_inference'"
                            " AND valid_to IS NULL ORDER BY created").fetchall()
    assert len(jobs) == 3 and {j[1] for j in jobs} == {"succeeded"} and {j[2] for j in jobs} == {"mia"}
    assert {j[4] for j in jobs} == {"batch_inference"}
    result = json.loads(jobs[0][3])
    assert result["computed"] is True and result["report_hashes"]["drift"] == "cd" * 32 and result["rows"] == 10
