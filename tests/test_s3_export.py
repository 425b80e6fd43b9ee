"""Bundles to S3, tested against a real S3-compatible HTTP endpoint (moto's standalone server) that the tests start."""

from __future__ import annotations

import boto3
import pytest

from ledger_tools.bundle import verify_bundle

from .s3_server import CREDENTIALS, free_port
from .test_cli import run


def test_a_bundle_exported_to_s3_downloads_and_verifies_and_is_never_overwritten(tmp_path, s3_endpoint):
    env = {**CREDENTIALS, "GOVLEDGER_S3_ENDPOINT_URL": s3_endpoint}
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **{k.lower(): v for k, v in CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"},
                      region_name="us-east-1")
    s3.create_bucket(Bucket="regulator-drop")
    assert run("demo", "--days", "1", "--rows", "5", cwd=tmp_path).returncode == 0
    exported = run("export", "--out", "s3://regulator-drop/2026/q4.tar.gz", "--from-position", "0", cwd=tmp_path, **env)
    assert exported.returncode == 0, exported.stderr
    local = tmp_path / "q4.tar.gz"
    s3.download_file("regulator-drop", "2026/q4.tar.gz", str(local))
    vkey = (tmp_path / "govledger-data" / "keys" / "signing.vkey").read_text().strip()
    assert verify_bundle(local, vkey).events > 0
    again = run("export", "--out", "s3://regulator-drop/2026/q4.tar.gz", "--from-position", "0", cwd=tmp_path, **env)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_an_unreachable_s3_endpoint_is_a_clear_error(tmp_path):
    assert run("demo", "--days", "1", "--rows", "5", cwd=tmp_path).returncode == 0
    env = {**CREDENTIALS, "GOVLEDGER_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result = run("export", "--out", "s3://nowhere/b.tar.gz", "--from-position", "0", cwd=tmp_path, **env)
    assert result.returncode == 2 and "cannot reach" in result.stderr
    assert "govledger-test-secret" not in result.stderr


@pytest.mark.parametrize(("url", "message"), [("s3://bucket-only", "not s3://BUCKET/KEY"), ("s3:///k.zip", "not s3://BUCKET/KEY"),
                                              ("s3://b/plain-key", "end the key")])
def test_a_malformed_s3_destination_is_refused(tmp_path, url, message):
    result = run("export", "--out", url, "--from-position", "0", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
