"""Datasets: ingested from an uploaded CSV (multipart, spooled to disk as it arrives), a query on a registered
connection or an S3 object; each snapshot kept under its SHA-256 and registered with its schema and profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import Field

from domain.errors import InvalidInput
from domain.roles import Action
from ledger.artifacts import LocalArtifactStore
from ledger.ingest import (
    DatasetTooLarge,
    ingest_file,
    ingest_object,
    ingest_query,
    scratch,
)
from projections.queries import DATASET_COLUMNS

from .bodies import StrictJsonRoute
from .deps import CurrentActor, ServicesDep
from .errors import RESPONSES
from .reading import AsOf, ProjectionBehind, reading
from .views import Body, DatasetPublic, IdempotencyKey, Name, with_position

router = APIRouter(route_class=StrictJsonRoute, prefix="/v1", tags=["datasets"], responses=RESPONSES)
CHUNK = 1024 * 1024


def dataset_answer(services: Any, recorded: Any) -> dict[str, Any]:
    """What an ingestion answers: the dataset as the ledger now holds it, and the position of its registration."""
    d = services.governance.get_dataset(recorded.id)
    return {"dataset_id": str(d.id), "content_hash": d.content_hash, "row_count": d.row_count, "profile": d.profile,
            "position": recorded.position,
            "dataset": {"dataset_id": str(d.id), "name": d.name, "source": d.source, "row_count": d.row_count,
                        "content_hash": d.content_hash, "registered_by": d.registered_by, "source_kind": d.source_kind,
                        "snapshot": d.snapshot, "schema": d.schema, "profile": d.profile, "position": recorded.position}}


def _store(services: Any) -> LocalArtifactStore:
    if services.artifacts is None:
        raise InvalidInput("this service has no artifact store configured")
    store: LocalArtifactStore = services.artifacts
    return store


@router.post("/datasets/uploads", status_code=201)
def upload_dataset(services: ServicesDep, actor: CurrentActor, file: Annotated[UploadFile, File(description="a CSV file, UTF-8, with a header row")],
                   name: Annotated[str, Form(min_length=1, max_length=200)],
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Register an uploaded CSV as a dataset: 201 with its id, SHA-256, row count and profile."""
    services.governance.authorize(actor, Action.TRAIN, "dataset", name)  # refused before the upload is stored
    limit = services.settings.max_dataset_bytes
    with scratch(_store(services)) as folder:
        path = Path(folder) / "upload.csv"
        written = 0
        with open(path, "wb") as out:
            while chunk := file.file.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise DatasetTooLarge(f"the upload is larger than the {limit} bytes a dataset may have")
                out.write(chunk)
        label = "".join(c if c.isprintable() else "?" for c in (file.filename or "data.csv"))[:200]
        source = f"upload:{label}"  # the client's file name, as a label only: nothing is opened by it
        recorded = ingest_file(services.governance, actor, services.artifacts, path, name=name, source=source,
                               source_kind="upload", max_bytes=limit, idempotency_key=idempotency_key)
    return dataset_answer(services, recorded)


class QueryIn(Body):
    name: Name
    connection: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="a registered connection's name")]
    query: Annotated[str, Field(min_length=1, max_length=1_900, description="one SELECT (or WITH … SELECT) statement, "
                                "run read-only with a time limit")]


@router.post("/datasets/queries", status_code=201)
def register_query(services: ServicesDep, actor: CurrentActor, body: QueryIn,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Register the result of a query on a registered connection (PostgreSQL or MySQL/MariaDB) as a dataset; the
    connection's credentials never leave the server."""
    services.governance.authorize(actor, Action.TRAIN, "dataset", body.name)  # the role first, whatever else is wrong
    recorded = ingest_query(services.governance, actor, _store(services), services.settings, name=body.name,
                            connection=body.connection, query=body.query, idempotency_key=idempotency_key)
    return dataset_answer(services, recorded)


class ObjectIn(Body):
    name: Name
    uri: Annotated[str, Field(pattern=r"^s3://[^/]+/.+$", max_length=1_900, description="s3://BUCKET/KEY of a CSV object")]


@router.post("/datasets/objects", status_code=201)
def register_object(services: ServicesDep, actor: CurrentActor, body: ObjectIn,
                    idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Register a CSV object in S3 as a dataset (endpoint, region and credentials come from the server's settings)."""
    services.governance.authorize(actor, Action.TRAIN, "dataset", body.name)
    recorded = ingest_object(services.governance, actor, _store(services), services.settings, name=body.name,
                             uri=body.uri, idempotency_key=idempotency_key)
    return dataset_answer(services, recorded)


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic)
def get_dataset(services: ServicesDep, actor: CurrentActor, dataset_id: UUID, as_of: AsOf = None) -> dict[str, Any]:
    """One dataset with its schema and profile."""
    with reading(services, actor, f"dataset {dataset_id}", as_of=as_of) as r:
        found = r.fetch(r.query().add(f"valid_from <= {r.param}", r.nid).equal("dataset_id", str(dataset_id)),
                        "registry_datasets", DATASET_COLUMNS, {"valid_from": int}, 1)["items"]
    if not found:
        services.governance.get_dataset(dataset_id)  # 404 when unknown; otherwise the read models are behind
        raise ProjectionBehind(f"dataset {dataset_id} is not in the read models yet; ask again shortly")
    return with_position(found[0])

