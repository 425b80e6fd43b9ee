"""The shapes the API answers with (also its OpenAPI schemas), and how aggregates become them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.models import Model, ModelVersion


def _printable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


#: Text from callers: no NUL (PostgreSQL text cannot hold one), bounded.
Text = Annotated[str, AfterValidator(_printable), Field(max_length=20_000)]
Name = Annotated[str, AfterValidator(_printable), Field(max_length=200)]


#: Every command takes one: a repeat with the same key by the same caller answers the first answer, recording nothing.
IdempotencyKey = Annotated[str | None, Header(max_length=200, description=(
    "any 1 to 200 printable ASCII characters, new for each request: a retry with the same key and the same request "
    "answers the first answer and records nothing; with a different request it is refused (409 idempotency_key_reused)"))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelPublic(BaseModel):
    model_id: str
    name: str
    description: str
    owner: str
    registered_by: str
    versions: int
    monitored: bool
    risk_tier: str


class VersionPublic(BaseModel):
    version_id: str
    model_id: str
    number: int
    status: str
    estimator: str
    target: str
    trained_by: str
    artifact_hash: str
    dataset_ids: list[str]
    metrics: dict[str, float]
    deployment_target: str | None
    job_id: str | None = Field(None, description="the training job that trained it; null for an imported version")
    task: str | None = None


class ModelDetail(ModelPublic):
    version_list: list[VersionPublic]


class DatasetPublic(BaseModel):
    dataset_id: str
    name: str
    source: str
    row_count: int
    content_hash: str
    registered_by: str
    source_kind: str | None = Field(None, description="upload, file, query or s3; null for a dataset registered by its hash")
    snapshot: bool = Field(False, description="its bytes are kept in the artifact store, so jobs can train on them")
    schema_: dict[str, str] = Field(default_factory=dict, alias="schema", serialization_alias="schema")
    profile: dict[str, dict[str, Any]] | None = Field(None, description="per column: type, missing share, distinct "
                                                      "values, min/max/mean/std and quantiles, or top categories")
    position: int


class UserPublic(BaseModel):
    user_id: str
    username: str
    role: str
    active: bool


class SectionScorePublic(BaseModel):
    section: str
    status: str
    mandatory: bool
    weight: int
    points: float
    detail: str


class WrittenSection(BaseModel):
    content: str
    edited_by: str
    edited_at: str


class ComplianceSummary(BaseModel):
    model_id: str
    score: int = Field(ge=0, le=100)
    risk_tier: str
    breakdown: list[SectionScorePublic]


class CompliancePublic(ComplianceSummary):
    sections: dict[str, WrittenSection]


class AuditEntry(BaseModel):
    position: int
    recorded_at: str
    aggregate_id: str
    event_type: str
    action: str
    outcome: str
    actor: str | None
    model_id: str | None
    data_subject: str | None
    summary: str


class JobError(BaseModel):
    code: str
    message: str


class JobPublic(BaseModel):
    job_id: str
    kind: str = Field(description="training or batch_inference")
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    progress: float = Field(description="0.0 to 1.0")
    model_id: str | None
    version_id: str | None
    dataset_id: str | None
    requested_by: str | None
    requested_at: str
    started_at: str | None
    finished_at: str | None
    worker: str | None
    attempt: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: JobError | None
    position: int | None = Field(description="the ledger position of the job's request (null until the read models "
                                 "have reached it)")
    live: dict[str, Any] | None = Field(None, description="what the worker last reported while it runs: fraction, "
                                        "candidates evaluated, best score and family so far, elapsed and remaining "
                                        "seconds, and whether its lease has run out (then another worker takes over)")


class JobDetail(JobPublic):
    """One job, read from the ledger itself when asked without `as_of` (so it is never behind the read models)."""


class Recorded(BaseModel):
    """What a command answers: the ledger position of its last event."""

    position: int | None = Field(description="the ledger position of the command's last event; null when it recorded "
                                             "nothing new (repeating an erasure that is already done)")


class ModelRecorded(Recorded):
    model: ModelPublic


class VersionRecorded(Recorded):
    version: VersionPublic


class DatasetRecorded(Recorded):
    dataset: DatasetPublic


def model_view(model: Model) -> dict[str, Any]:
    return {"model_id": str(model.id), "name": model.name, "description": model.description, "owner": str(model.owner),
            "registered_by": model.registered_by, "versions": len(model.version_ids), "monitored": model.monitored,
            "risk_tier": model.config.risk_tier.value}


def version_view(version: ModelVersion) -> dict[str, Any]:
    return {"version_id": str(version.id), "model_id": str(version.model_id), "number": version.number,
            "status": str(version.status), "estimator": version.estimator, "target": version.target,
            "trained_by": version.trained_by_name, "artifact_hash": version.artifact_hash,
            "dataset_ids": [str(d) for d in version.dataset_ids], "metrics": version.metrics,
            "deployment_target": version.deployment["target"] if version.deployment else None,
            "job_id": str(version.job_id) if version.job_id else None, "task": version.task}


def with_position(row: dict[str, Any]) -> dict[str, Any]:
    """Rows keyed by notification id answer with the ledger position (notification id − 1)."""
    key = next(k for k in ("notification_id", "created", "valid_from") if k in row)
    return {**{k: v for k, v in row.items() if k != key}, "position": row[key] - 1}
