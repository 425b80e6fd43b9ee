"""The registry projection: applied exactly once with tracking, rebuilt identical, and as of any position equal to a replay."""

from __future__ import annotations

import hashlib

from domain.application import Governance
from domain.models import ModelVersion
from ledger.database import Database
from projections.registry import versions_as_of
from projections.runner import catch_up, rebuild, tracked
from tests.domain.world import MemoryArtifacts


def story(db: Database, after_each=None, keys: dict[str, str] | None = None) -> Governance:
    """Two models, three versions walking the lifecycle; `after_each` runs after every command; `keys` gets the API keys."""
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    step = after_each or (lambda: None)
    keys = {} if keys is None else keys
    keys["root"] = app.create_admin("root")[1]
    admin = app.authenticate(keys["root"])
    for name, role in (("dana", "data_scientist"), ("mia", "manager"), ("cora", "compliance_manager"),
                       ("dev", "data_scientist"), ("aud", "auditor")):
        app.create_user(admin, name, role)
        keys[name] = app.issue_api_key(admin, name, "t")[1]
    dana, mia, cora = (app.authenticate(keys[n]) for n in ("dana", "mia", "cora"))
    dataset = app.register_dataset(dana, name="d", source="s", schema={"a": "integer"}, row_count=1, content_hash="ab" * 32)
    step()
    for model_name in ("credit", "fraud"):
        model = app.register_model(dana, name=model_name)
        step()
        for n in range(2 if model_name == "credit" else 1):
            blob = f"{model_name}-{n}".encode()
            version = app.import_version(dana, model, artifact=blob, declared_hash=hashlib.sha256(blob).hexdigest(), estimator="x",
                                         metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y", dataset_ids=[dataset])
            step()
            app.export_to_staging(dana, version)
            step()
            app.record_batch_run(mia, version, run_id="r", rows=10, metrics={"auc": 0.7}, report_hashes={},
                                 drift_share=0.0, drift_detected=False, fairness_breach=False)
            step()
            for section in ("model_info", "domain_context", "fairness_bias", "risk_classification"):
                app.edit_section(cora, model, section, "documented")
            app.approve(mia, version, findings="ok")
            step()
    return app


def snapshot(db: Database) -> list[tuple]:
    with db.connect() as conn:
        rows = conn.execute("SELECT version_id, model_id, number, status, trained_by, valid_from, valid_to FROM registry_versions"
                            " ORDER BY version_id, valid_from").fetchall()
        models = conn.execute("SELECT model_id, name, versions, valid_from, valid_to FROM registry_models ORDER BY model_id, valid_from").fetchall()
    return [tuple(r) for r in rows] + [tuple(m) for m in models]


def test_incremental_catch_up_and_a_full_rebuild_give_the_same_registry(db):
    app = story(db, after_each=lambda: catch_up(db, Governance(env=db.eventsourcing_env()).mapper))
    incremental = snapshot(db)
    assert incremental, "the projection recorded nothing"
    end = app.recorder.max_notification_id()
    assert rebuild(db, app.mapper) == end
    assert snapshot(db) == incremental
    with db.connect() as conn:
        assert tracked(conn, db) == end


def test_catching_up_twice_applies_nothing_twice(db):
    app = story(db)
    catch_up(db, app.mapper)
    first = snapshot(db)
    catch_up(db, app.mapper)
    assert snapshot(db) == first


def test_the_registry_as_of_any_position_equals_a_replay_to_that_position(db):
    app = story(db)
    catch_up(db, app.mapper)
    end = app.recorder.max_notification_id()
    notifications = app.recorder.select_notifications(start=1, limit=end)
    version_ids = {n.originator_id for n in notifications if n.topic.endswith("ModelVersion.Imported")}
    with db.connect() as conn:
        for nid in range(1, end + 1, 3):
            projected = {row["version_id"]: row["status"] for row in versions_as_of(conn, db.param(), nid)}
            replayed = {}
            for vid in version_ids:
                events = [n for n in notifications if n.originator_id == vid and n.id <= nid]
                if events:
                    version = app.repository.get(vid, version=events[-1].originator_version)
                    assert isinstance(version, ModelVersion)
                    replayed[str(vid)] = version.status.value
            assert projected == replayed, f"as of notification {nid}"


def test_a_rebuild_until_a_position_stops_there(db):
    app = story(db)
    middle = app.recorder.max_notification_id() // 2
    assert rebuild(db, app.mapper, until=middle) == middle
    with db.connect() as conn:
        assert tracked(conn, db) == middle
        assert all(row[0] <= middle for row in conn.execute("SELECT valid_from FROM registry_versions").fetchall())
