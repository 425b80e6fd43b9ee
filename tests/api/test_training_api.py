"""The Pipeline and Process Managers over HTTP: uploads, training jobs, their progress and outcome, lineage and the
artifact, each refusal and bad input a clear error that records nothing but the refusal."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from ledger.connections import ConnectionCredentials
from ledger.settings import Settings
from projections.runner import Projector
from tests.workers.training_world import TrainingWorld, training_world


@dataclass
class Http:
    client: TestClient
    world: TrainingWorld

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.world.keys[who]}"}, **kwargs)

    def events(self) -> int:
        return self.world.app.recorder.max_notification_id()

    def project(self) -> None:
        Projector(self.world.db, self.world.app).catch_up()


@pytest.fixture
def http(db_url, signer, tmp_path) -> Http:
    w = training_world(db_url, tmp_path)
    w.app.credentials = ConnectionCredentials(w.db, os.urandom(32))
    settings = Settings(data_dir=tmp_path, max_dataset_bytes=64 * 1024, s3_endpoint_url=os.environ.get("GL_TEST_S3"))
    services = Services(w.app, w.db, signer.verifier, artifacts=w.artifacts, settings=settings)
    Projector(w.db, w.app).catch_up()
    return Http(TestClient(create_app(services)), w)


CSV = b"age,income,segment,defaulted\n" + b"".join(
    f"{20 + i % 50},{1000 + 37 * i},{'abc'[i % 3]},{'true' if i % 4 == 0 else 'false'}\n".encode() for i in range(120))


def test_an_uploaded_csv_is_registered_with_its_hash_row_count_and_profile(http):
    answer = http.call("POST", "/v1/datasets/uploads", "dana", files={"file": ("apps.csv", CSV, "text/csv")},
                       data={"name": "applications"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["content_hash"] == hashlib.sha256(CSV).hexdigest() and body["row_count"] == 120
    assert body["profile"]["income"]["type"] in ("integer", "float") and body["profile"]["segment"]["distinct"] == 3
    http.project()
    shown = http.call("GET", f"/v1/datasets/{body['dataset_id']}", "mia").json()
    assert shown["snapshot"] is True and shown["schema"]["defaulted"] == "boolean" and shown["position"] == body["position"]


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"),
    (b"a,b\n", "no rows"),
    (b"a,b\n1,2\n3\n", "line 3"),
    (b"a,b\n1,\xff\n", "UTF-8"),
])
def test_a_bad_csv_is_a_clear_422_and_registers_nothing(http, content, words):
    before = http.events()
    answer = http.call("POST", "/v1/datasets/uploads", "dana", files={"file": ("x.csv", content)}, data={"name": "x"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_dataset"
    assert words.lower() in answer.json()["error"]["message"].lower()
    assert http.events() == before


def test_a_csv_larger_than_the_configured_limit_is_413_and_registers_nothing(http):
    before = http.events()
    big = b"a,b\n" + b"1,2\n" * 20_000
    answer = http.call("POST", "/v1/datasets/uploads", "dana", files={"file": ("big.csv", big)}, data={"name": "big"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "dataset_too_large"
    assert http.events() == before


def test_a_manager_may_not_upload_a_dataset_and_the_attempt_is_recorded(http):
    before = http.events()
    answer = http.call("POST", "/v1/datasets/uploads", "mia", files={"file": ("apps.csv", CSV)}, data={"name": "a"})
    assert answer.status_code == 403 and http.events() == before + 1


def test_a_training_request_answers_202_with_a_job_id_and_the_job_reports_its_outcome(http):
    w = http.world
    answer = http.call("POST", "/v1/training-jobs", "dana", json={
        "dataset_id": str(w.dataset_id), "target": "defaulted", "task": "classification", "time_budget_seconds": 2,
        "protected_attributes": ["gender"], "preprocessing": {"scaling": "robust", "outliers": "clip"}})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    queued = http.call("GET", f"/v1/jobs/{job_id}", "dana").json()
    assert queued["state"] == "queued" and queued["progress"] == 0.0 and queued["error"] is None
    w.trainer().step()
    done = http.call("GET", f"/v1/jobs/{job_id}", "dana").json()
    assert done["state"] == "succeeded" and done["progress"] == 1.0 and done["requested_by"] == "dana"
    result = done["result"]
    assert {"version_id", "model_id", "leaderboard"} <= set(result)
    assert {"family", "params", "cv_mean", "cv_std", "fit_seconds"} <= set(result["leaderboard"][0])
    http.project()
    listed = http.call("GET", "/v1/jobs", "mia", params={"kind": "training"}).json()["items"]
    assert [j["job_id"] for j in listed] == [job_id] and listed[0]["state"] == "succeeded"
    lineage = http.call("GET", f"/v1/versions/{result['version_id']}/lineage", "mia").json()
    assert lineage["origin"] == "trained" and lineage["datasets"][0]["dataset_id"] == str(w.dataset_id)
    assert lineage["training_job"]["job_id"] == job_id and lineage["training_job"]["request"]["protected_attributes"] == ["gender"]
    artifact = http.call("GET", f"/v1/versions/{result['version_id']}/artifact", "dana")
    assert artifact.status_code == 200 and hashlib.sha256(artifact.content).hexdigest() == artifact.headers["x-content-sha256"]


def test_another_data_scientist_cannot_read_cancel_or_download_what_is_not_theirs(http):
    w = http.world
    job_id = str(w.request())
    before = http.events()
    assert http.call("GET", f"/v1/jobs/{job_id}", "dev").status_code == 403
    assert http.call("POST", f"/v1/jobs/{job_id}/cancel", "dev", json={}).status_code == 403
    assert http.events() == before + 2, "each refusal recorded, nothing else"
    w.trainer().step()
    version_id = w.app.training_job(UUID(job_id)).result["version_id"]
    assert http.call("GET", f"/v1/versions/{version_id}/artifact", "dev").status_code == 403


def test_the_requester_cancels_a_queued_job_and_cannot_cancel_it_twice(http):
    job_id = str(http.world.request())
    cancelled = http.call("POST", f"/v1/jobs/{job_id}/cancel", "dana", json={"reason": "wrong target"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert "wrong target" in cancelled.json()["error"]["message"]
    again = http.call("POST", f"/v1/jobs/{job_id}/cancel", "dana", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"


@pytest.mark.parametrize(("change", "status"), [
    ({"time_budget_seconds": 0}, 422),
    ({"time_budget_seconds": 10**7}, 422),
    ({"time_budget_seconds": "5"}, 422),
    ({"target": "nope"}, 422),
    ({"task": "regression", "target": "gender"}, 422),
    ({"dataset_id": "00000000-0000-0000-0000-000000000000"}, 404),
    ({"target": "a\u0000b"}, 422),
])
def test_a_training_request_that_cannot_run_is_refused_and_queues_nothing(http, change, status):
    before = http.events()
    answer = http.call("POST", "/v1/training-jobs", "dana", json={
        "dataset_id": str(http.world.dataset_id), "target": "defaulted", "task": "classification",
        "time_budget_seconds": 2, **change})
    assert answer.status_code == status, answer.text
    assert http.events() == before


def test_a_tampered_artifact_is_never_served(http):
    w = http.world
    job_id = w.request()
    w.trainer().step()
    version = w.app.get_version(w.ds, UUID(w.app.training_job(job_id).result["version_id"]))
    path = w.artifacts.root / version.artifact_hash[:2] / version.artifact_hash
    path.write_bytes(path.read_bytes() + b"tampered")
    answer = http.call("GET", f"/v1/versions/{version.id}/artifact", "dana")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "artifact_invalid"


def test_a_query_on_a_registered_connection_becomes_a_dataset_and_a_failing_one_registers_nothing(http, pg_url,
                                                                                                     pg_reader_url):
    import psycopg
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as the superuser; the reader may SELECT what it creates
        conn.execute("CREATE TABLE applicants (age int, income float, defaulted boolean)")
        conn.execute("INSERT INTO applicants SELECT 20 + g % 40, 1000.5 * g, g % 3 = 0 FROM generate_series(1, 50) g")
    admin = http.world.app.authenticate(http.world.keys["root"])
    http.world.app.register_connection(admin, name="bureau", url=pg_reader_url)
    answer = http.call("POST", "/v1/datasets/queries", "dana", json={"name": "bureau extract", "connection": "bureau",
                                                                     "query": "SELECT * FROM applicants ORDER BY income"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["row_count"] == 50 and answer.json()["profile"]["defaulted"]["type"] == "boolean"
    reader = pg_reader_url.split("//", 1)[1].split("@", 1)[0]
    assert f"{reader}@" not in answer.text and pg_reader_url not in answer.text
    before = http.events()
    failed = http.call("POST", "/v1/datasets/queries", "dana", json={"name": "x", "connection": "bureau",
                                                                     "query": "SELECT * FROM no_such_table"})
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "source_query_failed"
    assert http.events() == before


def test_a_query_through_a_superuser_connection_is_422_source_privileged_and_registers_nothing(http, pg_url):
    admin = http.world.app.authenticate(http.world.keys["root"])
    http.world.app.register_connection(admin, name="superuser", url=pg_url)
    before = http.events()
    answer = http.call("POST", "/v1/datasets/queries", "dana", json={
        "name": "server files", "connection": "superuser", "query": "SELECT pg_read_file('/etc/hostname') AS f"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "source_privileged", answer.text
    assert "is a superuser" in answer.json()["error"]["message"] and pg_url not in answer.text
    assert http.events() == before


def test_a_running_job_shows_the_workers_live_progress_in_the_list_and_alone(http):
    w = http.world
    job_id = w.request()
    with w.db.connect() as conn:
        queue = w.trainer().queue
        queue.discover(conn)
        queue.claim(conn, "worker-a", 30)
        w.app.start_training(job_id, worker="worker-a", attempt=1, lease_seconds=30)
        progress = {"fraction": 0.4, "candidates": 3, "best_score": 0.71, "best_family": "random_forest",
                    "elapsed_seconds": 0.8, "remaining_seconds": 1.2}
        assert queue.renew(conn, job_id, "worker-a", 30, progress)
    http.project()
    listed = http.call("GET", "/v1/jobs", "mia", params={"state": "running"}).json()["items"]
    alone = http.call("GET", f"/v1/jobs/{job_id}", "dana").json()
    for job in (listed[0], alone):
        assert job["state"] == "running" and job["progress"] == 0.4 and job["live"]["candidates"] == 3
        assert job["live"]["best_family"] == "random_forest" and job["live"]["lease_expired"] is False


def test_an_s3_object_in_a_listed_bucket_becomes_a_dataset_and_any_other_bucket_is_refused(http, s3_endpoint, monkeypatch):
    import boto3

    from tests.s3_server import CREDENTIALS

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for bucket in ("gl-data-feed", "gl-exports"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="apps.csv", Body=CSV)
    settings = http.client.app.state.services.settings
    http.client.app.state.services.settings = settings.model_copy(update={
        "s3_endpoint_url": s3_endpoint, "s3_ingest_buckets": "gl-data-feed"})
    answer = http.call("POST", "/v1/datasets/objects", "dana", json={"name": "feed", "uri": "s3://gl-data-feed/apps.csv"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["content_hash"] == hashlib.sha256(CSV).hexdigest()
    before = http.events()
    refused = http.call("POST", "/v1/datasets/objects", "dana", json={"name": "x", "uri": "s3://gl-exports/apps.csv"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "source_invalid"
    assert "GOVLEDGER_S3_INGEST_BUCKETS" in refused.json()["error"]["message"] and http.events() == before


def test_a_dataset_name_with_control_characters_is_refused_and_nothing_is_stored(http):
    before, stored = http.events(), set(http.world.artifacts.root.rglob("*"))
    answer = http.call("POST", "/v1/datasets/uploads", "dana", files={"file": ("a.csv", CSV)},
                       data={"name": "loans\x1b[2J\x1b[Happroved"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_dataset"
    assert http.events() == before and set(http.world.artifacts.root.rglob("*")) == stored


def test_an_upload_names_its_source_by_the_file_name_with_control_characters_made_harmless(http):
    answer = http.call("POST", "/v1/datasets/uploads", "dana", files={"file": ("a\x1b]0;x\x07.csv", CSV)},
                       data={"name": "labelled"})
    source = answer.json()["dataset"]["source"]
    assert answer.status_code == 201 and source.startswith("upload:a?]0;x") and source.isprintable()


def test_a_training_request_names_an_existing_model_or_a_new_one_not_both(http):
    w = http.world
    model = w.app.register_model(w.ds, name="mine").id
    answer = http.call("POST", "/v1/training-jobs", "dana", json={
        "dataset_id": str(w.dataset_id), "target": "defaulted", "task": "classification", "time_budget_seconds": 2,
        "model_id": str(model), "model_name": "another"})
    assert answer.status_code == 422 and "not both" in answer.json()["error"]["message"]
