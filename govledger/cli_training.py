"""The command line of the Pipeline Manager and the Process Manager: ingest datasets, request training, follow jobs.

These commands act as a user, not as the operator: the API key comes from --api-key-file or GOVLEDGER_API_KEY, and
the same role rules apply as over HTTP (only data scientists ingest and train; a refusal is recorded).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from domain.application import Governance
from domain.batch import BatchRun
from domain.errors import Unauthenticated
from domain.roles import Actor
from domain.training import FINAL, JobState, TrainingJob
from ledger.health import STALE_AFTER_S, worker_statuses
from ledger.ingest import ingest_file, ingest_object, ingest_query
from ledger.jobs import progress_of

from .bootstrap import Ledger

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

KeyFile = Annotated[Path | None, typer.Option("--api-key-file", help="a file holding your API key (default: the "
                                                                     "GOVLEDGER_API_KEY environment variable)")]


def acting_user(gov: Governance, key_file: Path | None) -> Actor:
    if key_file is not None:
        try:
            key = key_file.read_text().strip()
        except OSError as e:
            raise Unauthenticated(f"cannot read the API key file {key_file}: {e.strerror}") from None
    else:
        key = os.environ.get("GOVLEDGER_API_KEY", "").strip()
    if not key:
        raise Unauthenticated("these commands act as a user: pass --api-key-file or set GOVLEDGER_API_KEY")
    return gov.authenticate(key)


datasets = typer.Typer(no_args_is_help=True, help="Datasets: CSV snapshots kept under their SHA-256, with a profile.")


@datasets.command("ingest")
def datasets_ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE",
                                         help="a UTF-8 CSV with a header row")],
    name: Annotated[str, typer.Option(help="the dataset's name")],
    api_key_file: KeyFile = None,
) -> None:
    """Register a CSV file as a dataset: its bytes kept under their SHA-256, its schema and profile recorded."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = ingest_file(gov, actor, ledger.artifacts, file, name=name, source=f"file:{file.name}", source_kind="file",
                           max_bytes=ledger.settings.max_dataset_bytes)
    show_dataset(gov, recorded)


def show_dataset(gov: Governance, recorded: Any) -> None:
    d = gov.get_dataset(recorded.id)
    out.print(f"dataset {d.id}: {d.row_count} rows, {len(d.schema)} columns, sha256 {d.content_hash} "
              f"(position {recorded.position})", markup=False, highlight=False)
    table = Table("column", "type", "missing", "distinct", "summary")
    for column, stats in (d.profile or {}).items():
        table.add_row(column, stats.get("type", ""), f"{stats.get('missing_share', 0):.1%}", str(stats.get("distinct", "")),
                      _summary(stats))
    out.print(table)


@datasets.command("query")
def datasets_query(
    connection: Annotated[str, typer.Option(help="a registered connection's name (`govledger connections list`)")],
    query: Annotated[str, typer.Option(help="one SELECT statement, run read-only with GOVLEDGER_SOURCE_TIMEOUT")],
    name: Annotated[str, typer.Option(help="the dataset's name")],
    api_key_file: KeyFile = None,
) -> None:
    """Register the result of a query on a registered PostgreSQL or MySQL/MariaDB connection as a dataset."""
    ledger = Ledger()
    gov = ledger.application()
    recorded = ingest_query(gov, acting_user(gov, api_key_file), ledger.artifacts, ledger.settings, name=name,
                            connection=connection, query=query)
    show_dataset(gov, recorded)


@datasets.command("s3")
def datasets_s3(
    uri: Annotated[str, typer.Argument(metavar="S3_URI", help="s3://BUCKET/KEY of a CSV object")],
    name: Annotated[str, typer.Option(help="the dataset's name")],
    api_key_file: KeyFile = None,
) -> None:
    """Register a CSV object from S3 as a dataset (GOVLEDGER_S3_ENDPOINT_URL and the AWS credential chain)."""
    ledger = Ledger()
    gov = ledger.application()
    recorded = ingest_object(gov, acting_user(gov, api_key_file), ledger.artifacts, ledger.settings, name=name, uri=uri)
    show_dataset(gov, recorded)


connections = typer.Typer(no_args_is_help=True, help="Data connections: named databases datasets are queried from.")


@connections.command("add")
def connections_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the connection's name")],
    api_key_file: KeyFile = None,
) -> None:
    """Register a connection (superadmins): its URL, postgresql://… or mysql://…, is read from standard input so it
    never sits in the shell's history or the process list; it is kept encrypted outside the ledger."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    url = sys.stdin.readline().strip()
    recorded = gov.register_connection(actor, name=name, url=url)
    c = gov.get_connection(name)
    out.print(f"connection {c.name} ({c.kind} at {c.host}:{c.port}/{c.database}) registered at position "
              f"{recorded.position}; its credentials are kept encrypted, outside the ledger", markup=False, highlight=False)


@connections.command("list")
def connections_list(api_key_file: KeyFile = None) -> None:
    """Registered connections: name, kind, host, port and database (never the credentials)."""
    ledger = Ledger()
    gov = ledger.application()
    table = Table("name", "kind", "host", "port", "database", "position")
    for c, position in gov.list_connections(acting_user(gov, api_key_file)):
        table.add_row(c.name, c.kind, c.host, str(c.port), c.database, str(position))
    out.print(table)


def _summary(stats: dict[str, Any]) -> str:
    if stats.get("mean") is not None:
        return f"min {stats.get('min'):.4g} · mean {stats['mean']:.4g} · max {stats.get('max'):.4g}"
    top = stats.get("top") or []
    return ", ".join(f"{value} ({count})" for value, count in top[:3])


def train(
    dataset: Annotated[UUID, typer.Option(help="the dataset's id")],
    task: Annotated[str, typer.Option(help="classification, regression or clustering")],
    budget: Annotated[float, typer.Option(help="the search's time budget, in seconds")],
    target: Annotated[str | None, typer.Option(help="the column to predict (not for clustering)")] = None,
    metric: Annotated[str | None, typer.Option(help="the metric to optimise (default by task)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="a column to leave out (repeatable)")] = None,
    protected: Annotated[list[str] | None, typer.Option(help="a protected attribute: kept out of the features, "
                                                             "recorded for fairness (repeatable)")] = None,
    model: Annotated[UUID | None, typer.Option(help="add the version to this model of yours (default: a new model)")] = None,
    name: Annotated[str | None, typer.Option(help="the new model's name")] = None,
    follow: Annotated[bool, typer.Option(help="show the job's progress until it ends")] = False,
    api_key_file: KeyFile = None,
) -> None:
    """Request AutoML training on a dataset; a training worker (`govledger workers`) runs it."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = gov.request_training(actor, dataset_id=dataset, task=task, target=target, time_budget_seconds=budget,
                                    metric=metric, exclude=exclude or [], protected_attributes=protected or [],
                                    model_id=model, model_name=name)
    out.print(f"training job {recorded.id} queued (position {recorded.position})", markup=False, highlight=False)
    if follow:
        follow_job(ledger, gov, actor, recorded.id)
    elif not worker_running(ledger):
        err.print(NO_WORKER.format(worker="training worker", only="trainer"), markup=False, highlight=False)


NO_WORKER = ("no {worker} is running: the job waits, queued, until one claims it (start `govledger workers`, "
             "or `govledger workers --only {only}`, with the same database)")
WORKERS = {"training": ("training worker", "trainer", "trainer"), "batch_inference": ("batch worker", "batch", "batch worker"),
           "deployment": ("deploy worker", "deployer", "deployer"), "termination": ("deploy worker", "deployer", "deployer")}


def find_job(gov: Governance, actor: Actor, job_id: UUID) -> Any:
    """A training job, a batch run, a deployment or a termination, whichever the id names (a refused read is
    recorded)."""
    return gov.get_job(actor, job_id)


def kind_of(job: Any) -> str:
    return {"batch run": "batch_inference", "training job": "training"}.get(job.what, job.what)


def worker_running(ledger: Ledger, health_name: str = "trainer") -> bool:
    """Whether a training worker has reported lately (`worker_status`, as /readyz reads it). Without this, `train
    --follow` with no worker anywhere sat silent for ever, and a first-time user could not tell a slow job from one
    nobody will run."""
    with ledger.db.connect() as conn:
        statuses = worker_statuses(ledger.db, conn)
    now = datetime.now(UTC)
    return any(s.name == health_name and s.state in ("running", "retrying")
               and (now - s.updated_at).total_seconds() <= STALE_AFTER_S for s in statuses)


def follow_job(ledger: Ledger, gov: Governance, actor: Actor, job_id: UUID, *, poll: float = 0.5) -> TrainingJob | BatchRun:
    """Draw the job's progress until it ends; its final state is printed and returned."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    worker, only, health = WORKERS[kind_of(find_job(gov, actor, job_id))]
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("queued", total=1.0, detail=f"waiting for a {worker}")
        looked: float | None = float("-inf")  # when worker_status was last read for a queued job
        while True:
            job = find_job(gov, actor, job_id)
            if job.state is JobState.QUEUED and looked is not None and time.monotonic() - looked > 10:
                looked = time.monotonic()
                if not worker_running(ledger, health):
                    bar.console.print(NO_WORKER.format(worker=worker, only=only), markup=False, highlight=False)
                    looked = None  # said once
            if job.state in FINAL:
                bar.update(task, completed=1.0, description=job.state.value, detail="")
                break
            live = None
            with ledger.db.connect() as conn:
                live = progress_of(ledger.db, conn, str(job_id))
            if live and "rows_scored" in live:
                bar.update(task, completed=live["fraction"], description=f"scoring (attempt {job.attempt})",
                           detail=f"{live['rows_scored']:,} rows")
            elif live:
                best = live.get("best_score")
                detail = (f"{live['candidates']} candidates · best {live.get('best_family')} {best:.4f}"
                          if best is not None else f"{live['candidates']} candidates")
                bar.update(task, completed=live["fraction"], description=f"training (attempt {job.attempt})",
                           detail=f"{detail} · {live['remaining_seconds']:.0f} s left")
            else:
                bar.update(task, description=job.state.value)
            time.sleep(poll)
    show_outcome(job)
    return job


def show_outcome(job: TrainingJob | BatchRun) -> None:
    if isinstance(job, BatchRun) and job.result is not None:
        show_batch_summary(job)
    elif job.result is not None:
        r = job.result
        out.print(f"succeeded: model {r['model_id']} version {r['version_id']}; {r['family']} {r['metric']} "
                  f"{r['cv_mean']:.4f} ± {r['cv_std']:.4f} after {r['candidates']} candidates in {r['seconds']:.1f} s",
                  markup=False, highlight=False)
        table = Table("rank", "family", f"cv {r['metric']}", "fit s", "parameters")
        for rank, entry in enumerate(r["leaderboard"][:10], 1):
            params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
            table.add_row(str(rank), entry["family"], f"{entry['cv_mean']:.4f} ± {entry['cv_std']:.4f}",
                          f"{entry['fit_seconds']:.2f}", params[:80])
        out.print(table)
    elif job.error is not None:
        out.print(f"{job.state.value} [{job.error['code']}]: {job.error['message']}", markup=False, highlight=False)


jobs = typer.Typer(no_args_is_help=True, help="Jobs: their state and progress, and cancellation.")


@jobs.command("show")
def jobs_show(job_id: Annotated[UUID, typer.Argument(metavar="JOB_ID", help="the job's id")],
              follow: Annotated[bool, typer.Option(help="show its progress until it ends")] = False,
              api_key_file: KeyFile = None) -> None:
    """A job's state (a training job or a batch run), its result or error."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    if follow:
        follow_job(ledger, gov, actor, job_id)
        return
    job = find_job(gov, actor, job_id)
    out.print(f"{job.what} {job.id}: {job.state.value} (attempt {job.attempt}, requested by {job.requested_by_name})",
              markup=False, highlight=False)
    show_outcome(job)


@jobs.command("cancel")
def jobs_cancel(job_id: Annotated[UUID, typer.Argument(metavar="JOB_ID", help="the job's id")],
                reason: Annotated[str, typer.Option(help="why")] = "", api_key_file: KeyFile = None) -> None:
    """Cancel a queued or running job (its requester only)."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = gov.cancel_job(actor, job_id, reason=reason)
    out.print(f"job {job_id} cancelled (position {recorded.position})", markup=False, highlight=False)


def show_batch_summary(run: BatchRun) -> None:
    """A completed batch run as a reviewer reads it: performance, drift, fairness and what drove the predictions."""
    result = run.result or {}
    summary = result.get("summary") or {}
    out.print(f"succeeded: {result.get('rows', 0):,} rows scored; reports: "
              + ", ".join(f"{name} {digest[:12]}…" for name, digest in sorted(result.get("report_hashes", {}).items())),
              markup=False, highlight=False)
    performance = summary.get("performance") or {}
    if performance:
        out.print("performance: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(performance.items())
                                                if isinstance(v, float)), markup=False, highlight=False)
    drift = summary.get("drift") or {}
    out.print(f"drift: {drift.get('share_drifted', 0):.0%} of features drifted ({', '.join(drift.get('drifted_features', [])) or 'none'})"
              + ("; DATASET DRIFT" if result.get("drift_detected") else ""), markup=False, highlight=False)
    for attribute, figures in (summary.get("fairness") or {}).items():
        ratio = figures.get("disparate_impact_ratio")
        out.print(f"fairness by {attribute}: disparate impact {ratio if ratio is None else f'{ratio:.3f}'}, "
                  f"parity difference {figures.get('demographic_parity_difference')}, four-fifths rule "
                  f"{'BREACHED' if figures.get('four_fifths_rule_breached') else 'holds'}", markup=False, highlight=False)
    importance = (summary.get("explanations") or {}).get("global_importance") or {}
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:5]
    if top:
        out.print("what drives the predictions (mean |SHAP|): " + ", ".join(f"{k} {v:.3f}" for k, v in top),
                  markup=False, highlight=False)
