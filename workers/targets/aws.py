"""What the AWS targets share: their settings, boto3 clients, AWS errors as DeploymentError, the artifact upload, and
the rule that a failed or cancelled provisioning releases everything of its deployment.

Credentials come from the normal AWS chain (environment, profile, instance or task role); GOVLEDGER_AWS_ENDPOINT_URL
points every client at an AWS-compatible endpoint instead of AWS.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.settings import Settings

from .base import DeploymentError, DeploymentSpec, Report, ShouldStop

#: AWS error codes of a throttled request: EC2, the query APIs (Auto Scaling), the JSON APIs, Lambda, S3.
THROTTLED = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                       "SlowDown", "RequestThrottled"})
ARTIFACT_PREFIX = "govledger/artifacts/"
CHUNK = 1024 * 1024
# Access key ids have this shape; no message of ours carries one, whatever an endpoint echoes back.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA)[A-Z0-9]{12,}\b")


@dataclass(frozen=True)
class AwsSettings:
    """The AWS targets' part of the settings, plus how long they wait for what they start (tests poll faster)."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    retries: int = 3  # attempts per call, the first included: throttled and transient calls are retried with backoff
    ami: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    artifact_bucket: str | None = None
    lambda_role: str | None = None
    instance_profile: str | None = None
    ready_timeout: float = 600.0  # seconds an instance, group or function has to become ready
    poll_interval: float = 5.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsSettings:
        return cls(endpoint_url=settings.aws_endpoint_url, region=settings.aws_region, retries=settings.aws_retries,
                   ami=settings.aws_ami, subnets=settings.aws_subnet_ids, security_groups=settings.aws_security_group_ids,
                   artifact_bucket=settings.aws_artifact_bucket, lambda_role=settings.aws_lambda_role,
                   instance_profile=settings.aws_instance_profile)

    def require(self, target: str, *fields: str) -> None:
        """Refuse to provision on a target whose required settings are missing, naming the variable to set."""
        for name in fields:
            if not getattr(self, name):
                raise DeploymentError("target_not_configured",
                                      f"the {target} target needs GOVLEDGER_AWS_{name.upper()} to be set")


class Aws:
    """The boto3 clients of one AwsSettings: short timeouts, a bounded number of attempts per call."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings

    def client(self, service: str) -> Any:
        s = self.settings
        return _client(service, s.endpoint_url, s.region, s.retries, s.connect_timeout, s.read_timeout)


_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()
_session: Any = None


def _client(service: str, endpoint_url: str | None, region: str, retries: int, connect_timeout: float,
            read_timeout: float) -> Any:
    """One client per process and configuration, from one session: a client is thread-safe, and a session parses
    each service's model once (a few tenths of a second for EC2), which a worker would otherwise pay per deployment.
    A session is not thread-safe: clients are made under a lock."""
    global _session
    key = (service, endpoint_url, region, retries, connect_timeout, read_timeout)
    with _clients_lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            if _session is None:
                _session = boto3.session.Session()  # credentials: the normal AWS chain
            config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                            retries={"total_max_attempts": retries, "mode": "standard"})
            _clients[key] = _session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
        return _clients[key]


def error_code(e: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    response = getattr(e, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def translate(e: Exception) -> DeploymentError | None:
    """The DeploymentError for a botocore or boto3 error, with a stable code; None for anything else (a bug)."""
    from boto3.exceptions import Boto3Error
    from botocore import exceptions as b

    if isinstance(e, DeploymentError):
        return e
    if isinstance(e, b.ClientError):
        code = error_code(e)
        message = scrub(str(e.response.get("Error", {}).get("Message") or ""))
        operation = getattr(e, "operation_name", "a call")
        said = f"{operation} failed with {code}" + (f": {message}" if message else "")
        if code.startswith("InvalidAMIID"):
            return DeploymentError("aws_invalid_ami", said)
        if code in THROTTLED:
            return DeploymentError("aws_throttled", said)
        return DeploymentError("aws_error", said)
    if isinstance(e, (b.ConnectionError, b.ReadTimeoutError, b.ConnectionClosedError)):
        return DeploymentError("aws_unreachable", f"cannot reach AWS: {scrub(str(e))}")
    if isinstance(e, (b.NoCredentialsError, b.PartialCredentialsError, b.CredentialRetrievalError)):
        return DeploymentError("aws_no_credentials", f"no usable AWS credentials ({type(e).__name__}): set them "
                               "in the environment, a profile or the instance's role")
    if isinstance(e, (b.BotoCoreError, Boto3Error)):
        return DeploymentError("aws_error", f"{type(e).__name__}: {scrub(str(e))}")
    return None


def scrub(text: str) -> str:
    return _KEY_ID.sub("[access key id]", text)


@contextmanager
def translated() -> Iterator[None]:
    """AWS errors raised inside become DeploymentError; others pass through."""
    try:
        yield
    except Exception as e:
        error = translate(e)
        if error is None or error is e:
            raise
        raise error from None


@contextmanager
def released_on_failure(release: Callable[[UUID], object], deployment_id: UUID) -> Iterator[None]:
    """Whatever fails inside (an AWS error, a cancellation, a bug) first releases everything of the deployment, then
    raises as a DeploymentError (a bug's exception as it was).

    Only Exception: SystemExit and KeyboardInterrupt mean the worker is going away, like a kill; what it created
    stays tagged for the next attempt to adopt, or for a release."""
    try:
        yield
    except Exception as e:
        error = translate(e)
        try:
            release(deployment_id)
        except DeploymentError as failed:
            left = f"releasing what was created failed too ({failed.message}); a later release finds it by its tags"
            if error is None:
                e.add_note(left)
                raise e from None
            raise DeploymentError(error.code, f"{error.message}; {left}") from None
        if error is None:
            raise
        raise error from None


def check_stop(should_stop: ShouldStop) -> None:
    if should_stop():
        raise DeploymentError("cancelled", "the deployment was stopped while provisioning; what it created is released")


def wait_until(ready: Callable[[], bool], what: str, settings: AwsSettings, report: Report, should_stop: ShouldStop,
               progress: tuple[float, float]) -> None:
    """Poll `ready` until it holds, reporting progress within `progress` and stopping when asked; bounded by
    settings.ready_timeout. `ready` raises DeploymentError for a state that will never become ready."""
    start = time.monotonic()
    low, high = progress
    while True:
        check_stop(should_stop)
        if ready():
            return
        elapsed = time.monotonic() - start
        if elapsed > settings.ready_timeout:
            raise DeploymentError("aws_timeout", f"{what} was not ready after {settings.ready_timeout:g} s")
        report(low + (high - low) * min(elapsed / settings.ready_timeout, 1.0), f"waiting for {what}")
        time.sleep(settings.poll_interval)


def artifact_key(spec: DeploymentSpec) -> str:
    return f"{ARTIFACT_PREFIX}{spec.artifact_hash}"


def upload_artifact(aws: Aws, spec: DeploymentSpec) -> str:
    """Upload the artifact to the artifact bucket under its content address, unless an object of that size is there
    already; the key. Whoever fetches it checks its SHA-256, so an object of the right size but wrong bytes serves
    nothing."""
    bucket, key = str(aws.settings.artifact_bucket), artifact_key(spec)
    path = spec.artifact_path
    if not path.is_file():
        raise DeploymentError("invalid_spec", f"the local copy of artifact {spec.artifact_hash} is missing")
    size = path.stat().st_size
    if object_size(aws, bucket, key) == size:
        return key
    # Fail closed: bytes that are not the ledger's are never uploaded under its hash.
    if sha256_file(path) != spec.artifact_hash:
        raise DeploymentError("invalid_spec", f"the local copy of artifact {spec.artifact_hash} does not match its hash")
    with translated():
        aws.client("s3").upload_file(str(path), bucket, key, ExtraArgs={"Metadata": {"sha256": spec.artifact_hash}})
    return key


def upload_bytes(aws: Aws, key: str, data: bytes) -> None:
    """Put `data` at `key` in the artifact bucket unless an object of that size is there (keys are content hashes)."""
    bucket = str(aws.settings.artifact_bucket)
    if object_size(aws, bucket, key) == len(data):
        return
    with translated():
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def object_size(aws: Aws, bucket: str, key: str) -> int | None:
    from botocore.exceptions import ClientError

    with translated():
        try:
            return int(aws.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as e:
            if error_code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
