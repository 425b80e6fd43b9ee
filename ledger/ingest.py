"""Ingestion: a CSV file becomes a registered dataset whose bytes the artifact store keeps.

The caller's right to ingest is checked (and a refusal recorded) before the data is read; the file is then read
strictly and profiled, stored under its SHA-256, and registered with its schema, row count, hash and profile, so a
training job can later train on exactly the bytes the ledger names. Nothing is registered when any step fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from domain.application import Governance, Recorded
from domain.datasets import check_registration
from domain.errors import DomainError
from domain.roles import Action, Actor
from ml.errors import MLError
from ml.tabular import infer_schema, profile, read_csv

from .artifacts import LocalArtifactStore
from .errors import LedgerError
from .settings import Settings
from .sources import SourceInvalid, check_query, fetch_object, fetch_query


class InvalidDataset(LedgerError):
    code = "invalid_dataset"


class DatasetTooLarge(LedgerError):
    code = "dataset_too_large"


def ingest_file(gov: Governance, actor: Actor, artifacts: LocalArtifactStore, path: Path, *, name: str, source: str,
                source_kind: str, max_bytes: int, idempotency_key: str | None = None) -> Recorded:
    """Register the CSV at `path` as dataset `name`; its bytes are kept in `artifacts` under their SHA-256."""
    gov.authorize(actor, Action.TRAIN, "dataset", name)
    size = path.stat().st_size
    if size > max_bytes:
        raise DatasetTooLarge(f"the dataset is {size} bytes; the limit is {max_bytes}")
    try:
        frame = read_csv(path, max_bytes=max_bytes)
    except MLError as e:
        raise InvalidDataset(e.message) from None
    schema = infer_schema(frame)
    try:  # what the registration will refuse is refused before the snapshot is stored, so nothing is left behind
        check_registration(name, source, schema, len(frame), "0" * 64)
    except DomainError as e:
        raise InvalidDataset(e.message) from None
    digest = artifacts.put_file(path)  # content-addressed: a retry stores nothing new
    return gov.register_dataset(actor, name=name, source=source, schema=schema, row_count=len(frame), content_hash=digest,
                                source_kind=source_kind, profile=profile(frame, schema), snapshot=True,
                                idempotency_key=idempotency_key)


def scratch(artifacts: LocalArtifactStore) -> tempfile.TemporaryDirectory[str]:
    """A private folder beside the artifact store (the same disk, so storing a snapshot is a rename), removed after."""
    artifacts.root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=artifacts.root, prefix=".ingest-")


def ingest_query(gov: Governance, actor: Actor, artifacts: LocalArtifactStore, settings: Settings, *, name: str,
                 connection: str, query: str, idempotency_key: str | None = None) -> Recorded:
    """Register the result of one read-only query on a registered connection; the source records the query (never
    the connection's credentials)."""
    gov.authorize(actor, Action.TRAIN, "dataset", name)  # refused before the source is touched
    query = check_query(query)
    url = gov.connection_url(connection)
    with scratch(artifacts) as folder:
        path = Path(folder) / "query.csv"
        fetch_query(url, query, path, max_bytes=settings.max_dataset_bytes, timeout_s=settings.source_timeout)
        return ingest_file(gov, actor, artifacts, path, name=name, source=f"query on {connection}: {query}",
                           source_kind="query", max_bytes=settings.max_dataset_bytes, idempotency_key=idempotency_key)


def ingest_object(gov: Governance, actor: Actor, artifacts: LocalArtifactStore, settings: Settings, *, name: str, uri: str,
                  idempotency_key: str | None = None) -> Recorded:
    """Register a CSV object from S3 (endpoint, region and credentials from the settings)."""
    gov.authorize(actor, Action.TRAIN, "dataset", name)
    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    if bucket not in settings.s3_ingest_bucket_names:  # the service's AWS credentials may reach more than data
        raise SourceInvalid(f"bucket {bucket!r} is not one datasets may be read from; an operator lists those in "
                            "GOVLEDGER_S3_INGEST_BUCKETS")
    with scratch(artifacts) as folder:
        path = Path(folder) / "object.csv"
        fetch_object(uri, path, max_bytes=settings.max_dataset_bytes, endpoint_url=settings.s3_endpoint_url,
                     region=settings.s3_region)
        return ingest_file(gov, actor, artifacts, path, name=name, source=uri, source_kind="s3",
                           max_bytes=settings.max_dataset_bytes, idempotency_key=idempotency_key)
