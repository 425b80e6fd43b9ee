"""A deployed model answers only after its artifact's bytes match the ledger's hash, and answers what the pipeline
itself predicts: `govledger serve-model` (EC2, Auto Scaling) and the Lambda handler, held to the same cases."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import operator
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from govledger.model_server import MAX_BODY, MAX_ROWS, make_app
from ledger.artifacts import TRUSTED_TYPES, ArtifactError, dump_model

from ..s3_server import CREDENTIALS, free_port

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "workers" / "targets" / "lambda_handler.py"
FEATURES = ["income", "age", "region"]


@pytest.fixture(scope="module")
def credit() -> tuple[Pipeline, pd.DataFrame]:
    """A boosted pipeline fitted on a frame (so it names its features), and rows it was not fitted on."""
    rng = np.random.default_rng(7)
    n = 400
    X = pd.DataFrame({"income": rng.normal(50_000, 15_000, n).round(2), "age": rng.integers(18, 80, n),
                      "region": rng.choice(["north", "south", "east"], n)})
    risk = -X["income"] / 15_000 + (X["region"] == "south") * 1.5 + rng.normal(0, 1, n)
    y = np.where(risk > risk.median(), "default", "repaid")
    features = ColumnTransformer([("numbers", StandardScaler(), ["income", "age"]),
                                  ("region", OneHotEncoder(handle_unknown="ignore"), ["region"])])
    pipeline = Pipeline([("features", features), ("model", HistGradientBoostingClassifier(max_iter=20))]).fit(X[:300], y[:300])
    return pipeline, X[300:].reset_index(drop=True)


@pytest.fixture(scope="module")
def artifact(credit, tmp_path_factory) -> tuple[Path, str]:
    data = dump_model(credit[0])
    path = tmp_path_factory.mktemp("artifact") / "model.skops"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _tampered(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 1  # one bit, in the middle of the archive
    return bytes(flipped)


def _untrusted() -> bytes:
    return sio.dumps(FunctionTransformer(func=operator.neg))  # an arbitrary callable, which skops does not trust


# -- the Lambda package: the handler copied beside its trusted type list, fetching from a real S3 endpoint ----------

def _package(directory: Path, trusted: list[str] | None = None) -> ModuleType:
    """The handler as a Lambda package holds it, imported afresh (a cold start)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HANDLER, directory / "lambda_handler.py")
    (directory / "trusted_types.json").write_text(json.dumps(sorted(TRUSTED_TYPES) if trusted is None else trusted))
    spec = importlib.util.spec_from_file_location(f"lambda_handler_{uuid.uuid4().hex}", directory / "lambda_handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bucket(s3_endpoint, artifact) -> Iterator[str]:
    """A bucket holding the artifact under `good`, and AWS's standard variables pointing boto3 at the endpoint."""
    name = f"models-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as env:
        for key, value in CREDENTIALS.items():
            env.setenv(key, value)
        env.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="good", Body=artifact[0].read_bytes())
        yield name


@pytest.fixture
def deployed(bucket, artifact, monkeypatch) -> Callable[..., None]:
    """Sets the function's environment: the artifact at `key`, expected to hash to `sha256`."""
    def deploy(key: str = "good", sha256: str = artifact[1]) -> None:
        monkeypatch.setenv("ARTIFACT_BUCKET", bucket)
        monkeypatch.setenv("ARTIFACT_KEY", key)
        monkeypatch.setenv("ARTIFACT_SHA256", sha256)

    deploy()
    return deploy


# -- one set of cases for both: `ask` sends a raw JSON body and returns (status, answer) ------------------------

@pytest.fixture(params=["serve-model", "lambda"])
def ask(request, artifact, tmp_path) -> Callable[[str], tuple[int, Any]]:
    if request.param == "serve-model":
        client = TestClient(make_app(*artifact), raise_server_exceptions=False)

        def over_http(body: str) -> tuple[int, Any]:
            response = client.post("/predict", content=body.encode(), headers={"Content-Type": "application/json"})
            return response.status_code, response.json()

        return over_http
    request.getfixturevalue("deployed")
    handler = _package(tmp_path / "package").handler

    def function_url(body: str) -> tuple[int, Any]:
        answer = handler({"body": body, "isBase64Encoded": False}, None)
        return answer["statusCode"], json.loads(answer["body"])

    return function_url


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # the keys in another order than the pipeline's: columns are matched by name, never by position
    return [dict(reversed(row.items())) for row in frame.to_dict(orient="records")]


def test_a_single_row_is_predicted_as_the_pipeline_predicts_it(ask, credit, artifact):
    pipeline, X = credit
    status, answer = ask(json.dumps({"features": _rows(X)[0]}))
    assert status == 200, answer
    assert answer["predictions"] == pipeline.predict(X[:1]).tolist()
    assert np.allclose(answer["scores"], pipeline.predict_proba(X[:1])[:, -1])
    assert answer["artifact_sha256"] == artifact[1]


def test_rows_are_predicted_as_the_pipeline_predicts_them(ask, credit):
    pipeline, X = credit
    status, answer = ask(json.dumps({"rows": _rows(X)}))
    assert status == 200, answer
    assert answer["predictions"] == pipeline.predict(X).tolist()
    assert set(answer["predictions"]) == {"default", "repaid"}
    assert np.allclose(answer["scores"], pipeline.predict_proba(X)[:, 1])  # P(repaid), the last class


def test_a_missing_feature_is_refused_naming_it(ask, credit):
    row = _rows(credit[1])[0]
    del row["age"]
    status, answer = ask(json.dumps({"features": row}))
    assert status == 422 and answer["error"]["code"] == "invalid_features"
    assert "missing features 'age'" in answer["error"]["message"]


def test_an_unknown_feature_is_refused_naming_it(ask, credit):
    rows = _rows(credit[1])[:3]
    rows[2]["zip_code"] = "10115"
    status, answer = ask(json.dumps({"rows": rows}))
    assert status == 422 and answer["error"]["code"] == "invalid_features"
    assert answer["error"]["message"] == "row 2: unknown features 'zip_code'"


def test_more_rows_than_allowed_are_refused(ask, credit):
    row = _rows(credit[1])[0]
    status, answer = ask(json.dumps({"rows": [row] * (MAX_ROWS + 1)}))
    assert status == 413 and answer["error"]["code"] == "too_many_rows"


def test_a_body_larger_than_allowed_is_refused(ask, credit):
    row = {**_rows(credit[1])[0], "region": "x" * 5_000}
    status, answer = ask(json.dumps({"rows": [row] * (MAX_BODY // 5_000 + 1)}))
    assert status == 413 and answer["error"]["code"] == "body_too_large"


@pytest.mark.parametrize(("value", "code"), [
    ("NaN", "invalid_request"), ("Infinity", "invalid_request"), ("-Infinity", "invalid_request"),
    ("1e999", "invalid_request"), ('"north\\u0000"', "invalid_features"), ('{"nested": 1}', "invalid_features"),
    ('["north"]', "invalid_features"),
])
def test_values_that_are_not_finite_numbers_or_plain_text_are_refused(ask, value, code):
    status, answer = ask('{"features": {"income": 50000.0, "age": 40, "region": %s}}' % value)
    assert status == 422 and answer["error"]["code"] == code


@pytest.mark.parametrize("body", [
    "", "not json", "[]", '{"features": {}, "rows": []}', '{"rows": []}', '{"rows": [1]}', '{"row": []}',
    '{"features": {"income": 1, "income": 2, "age": 3, "region": "north"}}',  # which income would be scored?
])
def test_malformed_requests_are_refused(ask, body):
    status, answer = ask(body)
    assert status == 422 and answer["error"]["code"] in ("invalid_request", "invalid_features")


def test_text_where_the_model_needs_a_number_is_refused(ask):
    status, answer = ask(json.dumps({"features": {"income": "plenty", "age": 40, "region": "north"}}))
    assert status == 422 and answer["error"]["code"] == "invalid_features"


# -- serve-model -----------------------------------------------------------------------------------------------

def test_the_server_reports_its_health_and_the_hash_it_serves(artifact):
    client = TestClient(make_app(*artifact))
    assert client.get("/healthz").json() == {"status": "ok", "artifact_sha256": artifact[1]}
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_server_refuses_to_start_on_a_tampered_artifact(artifact, tmp_path):
    path, digest = artifact
    tampered = _tampered(path.read_bytes())
    (tmp_path / "model.skops").write_bytes(tampered)
    with pytest.raises(ArtifactError) as refused:
        make_app(tmp_path / "model.skops", digest)
    assert digest in refused.value.message and hashlib.sha256(tampered).hexdigest() in refused.value.message


def test_the_server_refuses_to_start_on_an_artifact_holding_an_untrusted_type(tmp_path):
    data = _untrusted()
    (tmp_path / "model.skops").write_bytes(data)
    with pytest.raises(ArtifactError, match="not trusted: _operator.neg"):
        make_app(tmp_path / "model.skops", hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("digest", ["", "0" * 63, "A" * 64, "../" * 22])
def test_the_server_refuses_a_hash_that_is_not_a_sha256(artifact, digest):
    with pytest.raises(ArtifactError, match="not a SHA-256"):
        make_app(artifact[0], digest)


def _govledger(*args: str, **kwargs: Any) -> subprocess.Popen:
    # the console script runs the editable install's code; this runs this checkout's
    return subprocess.Popen([sys.executable, "-c", "from govledger.cli import main; main()", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_serve_model_serves_predictions_over_http(artifact, credit):
    pipeline, X = credit
    port = free_port()
    server = _govledger("serve-model", "--artifact", str(artifact[0]), "--sha256", artifact[1],
                        "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    assert json.load(response) == {"status": "ok", "artifact_sha256": artifact[1]}
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve-model did not come up: {server.communicate(timeout=5)[1].decode()[-2000:]}")
                time.sleep(0.1)
        body = json.dumps({"rows": _rows(X[:5])}).encode()
        request = urllib.request.Request(f"{base}/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        assert answer["predictions"] == pipeline.predict(X[:5]).tolist()
        assert np.allclose(answer["scores"], pipeline.predict_proba(X[:5])[:, -1])
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_serve_model_exits_naming_both_hashes_when_the_artifact_was_altered(artifact, tmp_path):
    tampered = _tampered(artifact[0].read_bytes())
    (tmp_path / "model.skops").write_bytes(tampered)
    server = _govledger("serve-model", "--artifact", str(tmp_path / "model.skops"), "--sha256", artifact[1],
                        "--port", str(free_port()))
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    said = " ".join(stderr.decode().split())  # rich may wrap the line
    assert "error [artifact_invalid]" in said and artifact[1] in said and hashlib.sha256(tampered).hexdigest() in said


# -- the Lambda handler ----------------------------------------------------------------------------------------

def test_the_lambda_answers_an_event_that_is_the_request_itself(deployed, tmp_path, credit, artifact):
    pipeline, X = credit
    answer = _package(tmp_path).handler({"rows": _rows(X[:4])}, None)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["predictions"] == pipeline.predict(X[:4]).tolist() and body["artifact_sha256"] == artifact[1]


def test_the_lambda_answers_a_base64_function_url_event(deployed, tmp_path, credit):
    pipeline, X = credit
    body = base64.b64encode(json.dumps({"features": _rows(X)[0]}).encode()).decode()
    answer = _package(tmp_path).handler({"body": body, "isBase64Encoded": True, "requestContext": {}}, None)
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["predictions"] == pipeline.predict(X[:1]).tolist()


def test_the_lambda_refuses_a_tampered_object_without_loading_it(deployed, bucket, artifact, tmp_path, monkeypatch):
    tampered = _tampered(artifact[0].read_bytes())
    boto3.client("s3").put_object(Bucket=bucket, Key="tampered", Body=tampered)
    deployed(key="tampered")

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("skops was handed bytes that failed their hash check")

    monkeypatch.setattr(sio, "get_untrusted_types", never)
    monkeypatch.setattr(sio, "loads", never)
    handler = _package(tmp_path)
    with pytest.raises(handler.ArtifactRefused) as refused:
        handler.handler({"features": {}}, None)
    assert artifact[1] in str(refused.value) and hashlib.sha256(tampered).hexdigest() in str(refused.value)


def test_the_lambda_refuses_an_object_holding_an_untrusted_type(deployed, bucket, tmp_path):
    data = _untrusted()
    boto3.client("s3").put_object(Bucket=bucket, Key="untrusted", Body=data)
    deployed(key="untrusted", sha256=hashlib.sha256(data).hexdigest())
    handler = _package(tmp_path)
    with pytest.raises(handler.ArtifactRefused, match="not trusted"):
        handler.handler({"features": {}}, None)


def test_a_lambda_package_without_the_trusted_list_cannot_load_a_boosted_model(deployed, tmp_path):
    handler = _package(tmp_path, trusted=[])  # skops' defaults alone do not cover the trees of a boosted model
    with pytest.raises(handler.ArtifactRefused, match="not trusted: .*TreePredictor"):
        handler.handler({"features": {}}, None)
    (tmp_path / "trusted_types.json").unlink()
    with pytest.raises(handler.ArtifactRefused, match="trusted_types.json"):
        handler.handler({"features": {}}, None)


def test_the_lambda_refuses_to_start_without_its_configuration(deployed, tmp_path, monkeypatch):
    monkeypatch.delenv("ARTIFACT_SHA256")
    handler = _package(tmp_path)
    with pytest.raises(handler.ArtifactRefused, match="ARTIFACT_SHA256 is not set"):
        handler.handler({"features": {}}, None)


def test_the_lambda_names_an_object_it_cannot_fetch(deployed, tmp_path):
    deployed(key="absent")
    handler = _package(tmp_path)
    with pytest.raises(handler.ArtifactRefused, match="cannot fetch the artifact s3://.*/absent"):
        handler.handler({"features": {}}, None)


def test_the_lambda_and_the_server_share_their_bounds(tmp_path):
    # the handler cannot import govledger, so it repeats the server's request checks; the cases above hold the
    # behaviour to one contract, and this the numbers
    import govledger.model_server as server

    handler = _package(tmp_path)
    assert (handler.MAX_ROWS, handler.MAX_BODY, handler.MAX_TEXT) == (server.MAX_ROWS, server.MAX_BODY, server.MAX_TEXT)
