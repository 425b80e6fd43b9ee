"""The one settings object, read from GOVLEDGER_* environment variables (docs/operations.md lists them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVLEDGER_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    data_dir: Path = Path("govledger-data")
    database_url: str | None = Field(default=None, description="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    signing_key: Path | None = Field(default=None, description="Ed25519 signer key file (C2SP note format); the sealer's only")
    receipt_key: Path | None = Field(default=None, description="the Ed25519 key (C2SP note format) API nodes sign prediction receipts with; else keys/receipts.key, which govledger init makes")
    verify_key: Path | None = Field(default=None, description="the public verifier key file (.vkey) the API serves and checks with")
    api_secret: SecretStr | None = Field(default=None, description="the secret that signs pagination cursors, shared by every API process")
    log_origin: str = Field(default="govledger.local/ledger", description="checkpoint origin line and key name")
    seal_interval: float = Field(default=0.2, gt=0, le=60, description="seconds between sealer polls")
    seal_batch: int = Field(default=50_000, gt=0, description="most events sealed in one transaction")
    projector_batch: int = Field(default=1_000, gt=0, le=100_000, description="most events applied to the read models per transaction")
    max_event_bytes: int = Field(default=262_144, ge=1024, description="the largest stored event (topic and state), in bytes")
    s3_endpoint_url: str | None = Field(default=None, description="an S3-compatible endpoint; AWS when unset")
    s3_region: str | None = Field(default=None, description="the S3 region (credentials come from the AWS chain)")
    s3_ingest_buckets: str = Field(default="", description="comma-separated buckets datasets may be ingested from (none by default)")
    connections_key: SecretStr | None = Field(default=None, description="the AES-256 key (64 hex digits) that encrypts data connections' URLs; else keys/connections.key")
    http_max_body: int = Field(default=MIB, ge=1024, le=64 * MIB, description="largest request body, in bytes, except uploads")
    http_max_upload: int = Field(default=96 * MIB, ge=1024, le=4096 * MIB, description="largest upload body, in bytes")
    http_body_timeout: float = Field(default=60, gt=0, le=3600, description="seconds a client has to send a whole body")
    http_keep_alive: float = Field(default=5, gt=0, le=300, description="seconds an idle connection is kept open")
    http_max_connections: int = Field(default=200, ge=1, description="concurrent connections before new ones get 503")
    max_dataset_bytes: int = Field(default=512 * MIB, ge=1024, description="largest dataset ingested (upload, query result or object), in bytes")
    max_training_budget: float = Field(default=3_600, gt=0, le=86_400, description="longest time budget a training job may ask for, in seconds")
    training_lease: float = Field(default=30, ge=1, le=3_600, description="seconds a training worker's claim lasts unless renewed; a dead worker's job is taken over after it")
    training_cv_folds: int = Field(default=5, ge=2, le=20, description="cross-validation folds of the AutoML search")
    dask_scheduler: str | None = Field(default=None, description="a Dask scheduler address (tcp://HOST:8786): cross-validation fits run on that cluster")
    prices_per_1000: str = Field(default="small=0.02,medium=0.05,large=0.12", description="the estimated cost of 1,000 predictions by deployment size (size=price, comma-separated), for the routing traffic read model")
    deploy_lease: float = Field(default=120, ge=5, le=3_600, description="seconds a deploy worker's claim lasts unless renewed; a dead worker's deployment is taken over (and its resources adopted) after it")
    source_timeout: float = Field(default=60, gt=0, le=3_600, description="seconds a dataset query may run")
    aws_endpoint_url: str | None = Field(default=None, description="an AWS-compatible endpoint for the AWS deployment targets' EC2, Auto Scaling, Lambda and S3 calls; real AWS when unset (credentials come from the AWS chain)")
    aws_region: str = Field(default="us-east-1", description="the region the AWS deployment targets provision in")
    aws_ami: str | None = Field(default=None, description="the image (ami-…) the aws-ec2 and aws-asg targets boot; it must carry systemd, the AWS CLI and govledger")
    aws_subnets: str = Field(default="", description="comma-separated subnet ids the aws-ec2 and aws-asg targets launch in; the default VPC and the region's zones when empty")
    aws_security_groups: str = Field(default="", description="comma-separated security group ids of the instances; the VPC's default group when empty")
    aws_instance_profile: str | None = Field(default=None, description="the IAM instance profile (name or ARN) instances run with: it must let them read the artifact bucket")
    aws_artifact_bucket: str | None = Field(default=None, description="the S3 bucket artifacts and Lambda packages are uploaded to for the AWS targets")
    aws_lambda_role: str | None = Field(default=None, description="the IAM role ARN the aws-lambda target's functions run as; it must let them read the artifact bucket")
    aws_retries: int = Field(default=3, ge=1, le=10, description="attempts per AWS call, the first included: throttled and transient failures are retried with backoff")

    @property
    def price_table(self) -> dict[str, float]:
        """The price of 1,000 predictions by size, from prices_per_1000."""
        table: dict[str, float] = {}
        for entry in filter(None, (e.strip() for e in self.prices_per_1000.split(","))):
            size, _, price = entry.partition("=")
            try:
                table[size.strip()] = float(price)
            except ValueError:
                raise ConfigError(f"GOVLEDGER_PRICES_PER_1000: {entry!r} is not size=price") from None
            if not 0 <= table[size.strip()] < float("inf"):
                raise ConfigError(f"GOVLEDGER_PRICES_PER_1000: {entry!r} is not a price")
        return table

    @property
    def s3_ingest_bucket_names(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.s3_ingest_buckets.split(",") if b.strip())

    @property
    def aws_subnet_ids(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.aws_subnets.split(",") if s.strip())

    @property
    def aws_security_group_ids(self) -> tuple[str, ...]:
        return tuple(g.strip() for g in self.aws_security_groups.split(",") if g.strip())

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'govledger.db'}"

    @property
    def resolved_signing_key(self) -> Path:
        """The signing key path; production refuses to fall back to the development key."""
        if self.signing_key is not None:
            return self.signing_key
        if self.mode == "production":
            raise ConfigError("GOVLEDGER_SIGNING_KEY must name the Ed25519 signing key file in production mode")
        return self.data_dir / "keys" / "signing.key"

    @property
    def resolved_receipt_key(self) -> Path:
        return self.receipt_key or self.data_dir / "keys" / "receipts.key"

    @property
    def receipt_key_name(self) -> str:
        """The receipt key's name: the log's origin with /receipts, so a receipt names the service that signed it."""
        return self.log_origin.split("/")[0] + "/receipts"

    @property
    def resolved_verify_key(self) -> Path:
        """The public key an API node needs: never the private key, which only the sealer holds."""
        if self.verify_key is not None:
            return self.verify_key
        if self.signing_key is not None:
            return self.signing_key.with_suffix(".vkey")
        return self.data_dir / "keys" / "signing.vkey"

    @property
    def connections_key_file(self) -> Path:
        """Where the data connections' key is kept when GOVLEDGER_CONNECTIONS_KEY is not set."""
        return self.data_dir / "keys" / "connections.key"

    @property
    def api_secret_file(self) -> Path:
        """Where `govledger init` writes the cursor secret when GOVLEDGER_API_SECRET is not set."""
        return self.data_dir / "keys" / "api.secret"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = "; ".join(f"GOVLEDGER_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
