"""Bundles to S3 through boto3: endpoint and credentials from settings (GOVLEDGER_S3_*) or the usual AWS chain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidArgument, LedgerError


class S3Unavailable(LedgerError):
    code = "s3_unavailable"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        key = parts.path.lstrip("/")
        if parts.scheme != "s3" or not parts.netloc or not key:
            raise InvalidArgument(f"{url!r} is not s3://BUCKET/KEY")
        if not key.endswith((".tar.gz", ".tgz", ".zip")):
            raise InvalidArgument(f"an S3 bundle is one archive: end the key {key!r} with .tar.gz or .zip")
        return cls(parts.netloc, key)

    @property
    def name(self) -> str:
        return Path(self.key).name


def client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}))


def upload_new(s3: Any, location: S3Location, archive: Path) -> None:
    """Upload the finished archive; refuse to replace an existing object. A PUT is all or nothing."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise S3Unavailable(f"cannot reach s3://{location.bucket}: {e.response.get('Error', {}).get('Code')}") from None
    except BotoCoreError as e:
        raise S3Unavailable(f"cannot reach the S3 endpoint: {e}") from None
    else:
        raise InvalidArgument(f"s3://{location.bucket}/{location.key} already exists; a bundle is never written over anything")
    try:
        s3.upload_file(str(archive), location.bucket, location.key)
    except (BotoCoreError, ClientError) as e:
        raise S3Unavailable(f"cannot upload to s3://{location.bucket}/{location.key}: {e}") from None
