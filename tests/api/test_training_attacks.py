"""Attacks on uploads, training jobs and their reads over HTTP, by other roles and careless or hostile data scientists.

Each test is named after the attack; those that held are kept as cheap guards against regressions."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from ledger.connections import ConnectionCredentials
from ledger.settings import Settings
from projections.runner import Projector
from tests.api.test_training_api import CSV, Http
from tests.workers.training_world import training_world


@pytest.fixture
def http(db_url, signer, tmp_path) -> Http:
    """As tests/api/test_training_api.py's: a training world served over HTTP."""
    w = training_world(db_url, tmp_path)
    w.app.credentials = ConnectionCredentials(w.db, os.urandom(32))
    settings = Settings(data_dir=tmp_path, max_dataset_bytes=64 * 1024)
    Projector(w.db, w.app).catch_up()
    return Http(TestClient(create_app(Services(w.app, w.db, signer.verifier, artifacts=w.artifacts, settings=settings))), w)


FAR_DATES = b"opened,amount,approved\n" + b"".join(
    f"{'9999-12-31' if i % 7 == 0 else '0001-01-01' if i % 11 == 0 else f'2026-0{1 + i % 9}-1{i % 10}'},"
    f"{100 + 13 * i},{'true' if i % 3 == 0 else 'false'}\n".encode() for i in range(90))


def _upload(http, who: str, content: bytes, *, filename: str = "x.csv", name: str = "x", key: str | None = None):
    headers = {"Authorization": f"Bearer {http.world.keys[who]}", **({"Idempotency-Key": key} if key else {})}
    return http.client.post("/v1/datasets/uploads", headers=headers, files={"file": (filename, content, "text/csv")},
                            data={"name": name})


def test_a_csv_with_dates_in_year_9999_and_year_1_is_ingested_and_trained_on_not_a_server_error(http):
    answer = _upload(http, "dana", FAR_DATES)
    assert answer.status_code == 201, answer.text
    assert answer.json()["profile"]["opened"]["type"] == "datetime"
    job = http.call("POST", "/v1/training-jobs", "dana", json={
        "dataset_id": answer.json()["dataset_id"], "target": "approved", "task": "classification", "time_budget_seconds": 1})
    assert job.status_code == 202, job.text
    http.world.trainer().step()
    done = http.call("GET", f"/v1/jobs/{job.json()['job_id']}", "dana").json()
    assert done["state"] == "succeeded", done["error"]


def test_an_excel_csv_with_a_byte_order_mark_is_registered_under_its_real_column_names(http):
    answer = _upload(http, "dana", b"\xef\xbb\xbf" + CSV)
    assert answer.status_code == 201, answer.text
    assert "age" in answer.json()["dataset"]["schema"]


def test_a_manager_cannot_cancel_a_data_scientists_training_job_and_only_the_refusal_is_recorded(http):
    job_id = str(http.world.request())
    before = http.events()
    answer = http.call("POST", f"/v1/jobs/{job_id}/cancel", "mia", json={"reason": "mine now"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert http.events() == before + 1
    assert http.call("GET", f"/v1/jobs/{job_id}", "dana").json()["state"] == "queued"


def test_an_idempotency_key_replayed_with_another_file_is_refused_and_records_nothing(http):
    first = _upload(http, "dana", CSV, key="upload-1")
    assert first.status_code == 201
    before = http.events()
    again = _upload(http, "dana", CSV, key="upload-1")
    assert again.status_code == 201 and again.json()["dataset_id"] == first.json()["dataset_id"]
    other = _upload(http, "dana", CSV + b"99,1,a,true\n", key="upload-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert http.events() == before


def test_an_upload_filename_with_path_traversal_is_only_a_label_and_writes_nothing_outside_the_store(http, tmp_path):
    answer = _upload(http, "dana", CSV, filename="../../../escaped.csv")
    assert answer.status_code == 201
    assert not (tmp_path / "escaped.csv").exists() and not (tmp_path.parent / "escaped.csv").exists()
    assert http.world.artifacts.get(answer.json()["content_hash"]) == CSV


def test_two_files_in_one_upload_register_one_dataset_or_none(http):
    before = http.events()
    answer = http.call("POST", "/v1/datasets/uploads", "dana", data={"name": "two"},
                       files=[("file", ("a.csv", CSV)), ("file", ("b.csv", b"x,y\n1,2\n"))])
    assert answer.status_code in (201, 422)
    assert http.events() <= before + 1


def test_a_data_scientist_cannot_page_into_another_data_scientists_jobs_with_their_cursor(http):
    for _ in range(3):
        http.world.request()
    http.project()
    page = http.call("GET", "/v1/jobs", "dana", params={"limit": 1}).json()
    assert page["next_cursor"]
    stolen = http.call("GET", "/v1/jobs", "dev", params={"limit": 1, "cursor": page["next_cursor"]})
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "invalid_cursor"
    assert http.call("GET", "/v1/jobs", "dev").json()["items"] == []


def _raw_upload(http, body: bytes, content_type: str):
    return http.client.post("/v1/datasets/uploads", content=body, headers={
        "Authorization": f"Bearer {http.world.keys['dana']}", "content-type": content_type})


def test_a_malformed_multipart_body_is_422_invalid_request_not_an_undocumented_400(http):
    many = b"".join(b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(1_200)) + b"--B--\r\n"
    long_name = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + b"x" * 10_000 +
                 b'.csv"\r\n\r\na,b\n1,2\n\r\n--B--\r\n')
    before = http.events()
    for body, content_type in ((b"garbage", "multipart/form-data; boundary=B"), (b"garbage", "multipart/form-data"),
                               (many, "multipart/form-data; boundary=B"), (long_name, "multipart/form-data; boundary=B")):
        answer = _raw_upload(http, body, content_type)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
    assert http.events() == before
