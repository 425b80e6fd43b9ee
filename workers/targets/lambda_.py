"""The aws-lambda target: a function whose small package (the handler and the trusted types) loads the artifact from
S3, checked against the ledger's hash; it serves at a function URL that only signed (IAM) callers may invoke.

The function is named after the deployment and AWS refuses a second function of a name: an attempt after a crash
finds and adopts what the first created.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.artifacts import TRUSTED_TYPES

from .aws import (Aws, AwsSettings, check_stop, error_code, released_on_failure, translated, upload_artifact,
                  upload_bytes, wait_until)
from .base import DeploymentError, DeploymentSpec, Provisioned, Report, ShouldStop

HANDLER = Path(__file__).with_name("lambda_handler.py")
PACKAGE_PREFIX = "govledger/lambda/"
RUNTIME = "python3.12"
TIMEOUT_S = 60  # loading a model from S3 on a cold start takes longer than Lambda's default 3 s
# A zip's entries carry a time: a fixed one makes the same files the same bytes, so the same content address.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def function_name(deployment_id: UUID) -> str:
    return f"govledger-{deployment_id}"


def package() -> bytes:
    """The function's code: lambda_handler.py and trusted_types.json, as a zip that is byte for byte the same for
    the same files."""
    files = {HANDLER.name: HANDLER.read_bytes(),
             "trusted_types.json": (json.dumps(sorted(TRUSTED_TYPES), indent=1) + "\n").encode()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.create_system = 3  # unix: the mode below means the same wherever the zip is built
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[name], compresslevel=9)
    return out.getvalue()


class LambdaTarget:
    name = "aws-lambda"

    def __init__(self, settings: AwsSettings, aws: Aws | None = None) -> None:
        self.settings = settings
        self.aws = aws or Aws(settings)

    def provision(self, spec: DeploymentSpec, report: Report, should_stop: ShouldStop) -> Provisioned:
        self.settings.require(self.name, "artifact_bucket", "lambda_role")
        name = function_name(spec.deployment_id)
        with released_on_failure(self.release, spec.deployment_id):
            check_stop(should_stop)
            function = self._function(name)
            if function is not None:
                report(0.3, f"adopted function {name} from an earlier attempt")
            else:
                report(0.05, "uploading the artifact")
                artifact = upload_artifact(self.aws, spec)
                code = package()
                code_key = f"{PACKAGE_PREFIX}{hashlib.sha256(code).hexdigest()}.zip"
                upload_bytes(self.aws, code_key, code)
                check_stop(should_stop)
                function = self._create(spec, name, artifact, code_key)
                report(0.3, f"created function {name}")

            def active() -> bool:
                config = self._function(name)
                if config is None:
                    raise DeploymentError("aws_error", f"function {name} was deleted while it started")
                if config.get("State") == "Failed":
                    raise DeploymentError("aws_error", f"function {name} failed to start: "
                                          f"{config.get('StateReasonCode')}: {config.get('StateReason')}")
                return config.get("State", "Active") == "Active"

            wait_until(active, f"function {name} to be active", self.settings, report, should_stop, (0.3, 0.9))
            check_stop(should_stop)
            url = self._url(name)
            report(1.0, f"function {name} serves at {url}")
            return Provisioned([{"type": "lambda-function", "id": function["FunctionArn"]}], url)

    def release(self, deployment_id: UUID) -> list[dict[str, str]]:
        name = function_name(deployment_id)
        function = self._function(name)
        if function is None:
            return []
        with translated():
            try:  # its function URL goes with it
                self.aws.client("lambda").delete_function(FunctionName=name)
            except Exception as e:
                if error_code(e) != "ResourceNotFoundException":
                    raise
                return []
        return [{"type": "lambda-function", "id": function["FunctionArn"]}]

    def _function(self, name: str) -> dict[str, Any] | None:
        with translated():
            try:
                return dict(self.aws.client("lambda").get_function_configuration(FunctionName=name))
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException":
                    return None
                raise

    def _create(self, spec: DeploymentSpec, name: str, artifact_key: str, code_key: str) -> dict[str, Any]:
        s = self.settings
        with translated():
            try:
                return dict(self.aws.client("lambda").create_function(
                    FunctionName=name, Runtime=RUNTIME, Handler="lambda_handler.handler", Role=s.lambda_role,
                    Code={"S3Bucket": s.artifact_bucket, "S3Key": code_key},
                    MemorySize=spec.sizing.lambda_memory_mb, Timeout=TIMEOUT_S,
                    Description=f"govledger model version {spec.version_id}",
                    Environment={"Variables": {"ARTIFACT_BUCKET": str(s.artifact_bucket), "ARTIFACT_KEY": artifact_key,
                                               "ARTIFACT_SHA256": spec.artifact_hash}},
                    Tags=spec.tags))
            except Exception as e:
                raced = self._function(name) if error_code(e) == "ResourceConflictException" else None
                if raced is None:
                    raise
                return raced  # a racing attempt made it: adopted

    def _url(self, name: str) -> str:
        """The function's URL, made if missing. AWS_IAM: only callers whose SigV4-signed requests IAM allows."""
        client = self.aws.client("lambda")
        with translated():
            try:
                return str(client.get_function_url_config(FunctionName=name)["FunctionUrl"])
            except Exception as e:
                if error_code(e) != "ResourceNotFoundException":
                    raise
            try:
                return str(client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"])
            except Exception as e:
                if error_code(e) != "ResourceConflictException":
                    raise
                return str(client.get_function_url_config(FunctionName=name)["FunctionUrl"])
