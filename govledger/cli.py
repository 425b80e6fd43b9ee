"""The `govledger` command line. Every command reports a failure as `error [code]: message` and a non-zero exit."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import psycopg
import typer
from eventsourcing import persistence
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from typer._click.exceptions import NoArgsIsHelpError

from domain.errors import DomainError
from ledger.errors import (
    ConfigError,
    IntegrityFailure,
    InvalidArgument,
    LedgerError,
    NothingSigned,
    SigningKeyError,
    cause,
)
from ledger.history import aggregate_as_of
from ledger.keys import create_api_secret, create_signing_key, verifier_path
from ledger.migrate import migrate as run_migrations
from ledger.migrate import require_current
from ledger.sealer import seal_pending
from ledger.verify import read_trusted_checkpoint, verify_store
from workers.sealer import run_sealer

from . import cli_batch, cli_deploy, cli_serving, cli_training
from .bootstrap import OPERATOR, Ledger

app = typer.Typer(add_completion=False, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="govledger: a verifiable governance ledger for ML models.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _print_version(wanted: bool) -> None:
    if wanted:
        out.print(f"govledger {package_version('govledger')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """govledger: a verifiable governance ledger for ML models."""


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=False)


@app.command()
def init() -> None:
    """Create the data directory and, outside production, a development signing key (never commit it)."""
    ledger = Ledger()
    s = ledger.settings
    s.data_dir.mkdir(parents=True, exist_ok=True)
    if ledger.db.is_sqlite and ledger.db.path is not None:
        ledger.db.path.parent.mkdir(parents=True, exist_ok=True)
    path = ledger.key_path
    if path.exists():
        out.print(f"signing key {path} exists; keeping it")
    elif s.mode == "production":
        raise SigningKeyError(f"production mode: {path} does not exist; provision the signing key, init never makes one")
    else:
        signer = create_signing_key(path, s.log_origin)
        out.print(f"created development signing key {path} (mode 0600); verifier key: {signer.verifier}")
    receipts = s.resolved_receipt_key
    if not receipts.exists():
        # Unlike the log's key, the receipt key lives on every API node: it signs each prediction's receipt at once.
        signer = create_signing_key(receipts, s.receipt_key_name)
        out.print(f"created the receipt key {receipts} (mode 0600, for API nodes); verifier key: {signer.verifier}")
    if s.api_secret is None and not s.api_secret_file.exists():
        create_api_secret(s.api_secret_file)
        out.print(f"created the API's cursor secret {s.api_secret_file} (mode 0600; every API process needs the same one)")
    out.print(f"data directory {s.data_dir.resolve()}; database {ledger.db.describe()}; next: govledger migrate")


@app.command()
def migrate() -> None:
    """Apply pending schema migrations (safe to run again)."""
    ledger = Ledger()
    applied = run_migrations(ledger.db)
    out.print(f"applied {', '.join(applied)}" if applied else f"{ledger.db.describe()} is up to date")


@app.command()
def verify(
    key: Annotated[Path | None, typer.Option(help="pin the verifier key (.vkey) checkpoints must be signed with")] = None,
    trusted_checkpoint: Annotated[Path | None, typer.Option(
        help="a signed checkpoint you kept outside the database: the store must extend it")] = None,
) -> None:
    """Check every event, chain hash and checkpoint; exit 1 naming the first bad event, or when nothing is signed."""
    ledger = Ledger()
    verifier = ledger.verifier(key)
    trusted = read_trusted_checkpoint(trusted_checkpoint, verifier) if trusted_checkpoint is not None else None
    require_current(ledger.db)
    try:
        with ledger.db.connect() as conn, _progress() as bar:
            task = bar.add_task("verifying", total=None)
            report = verify_store(ledger.db, conn, verifier, trusted=trusted,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
    except NothingSigned as e:
        err.print(escape(f"FAILED [{e.code}]: {e.message}"))
        sys.exit(1)  # verification fails closed: nothing signed is a failure, not an unusable input
    unsealed = report.events - report.sealed
    out.print(f"OK: {report.events} events, chain intact; {report.checkpoints} checkpoints signed by {verifier.name}+{verifier.id.hex()} "
              f"and consistent; {report.sealed} events sealed, {unsealed} awaiting the sealer")
    if trusted is None:
        err.print("note: no --trusted-checkpoint given; a tail removed together with its checkpoints cannot be detected"
                  " without a checkpoint kept outside the database")
    else:
        out.print(f"extends the trusted checkpoint of tree size {trusted.size}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) on the configured store."""
    import uvicorn

    from api.app import create_app
    from api.guard import HEADER_LIMIT, Limits

    _can_listen(host, port)
    ledger = Ledger()
    require_current(ledger.db)
    s = ledger.settings
    app = create_app(ledger.api_services(), limits=Limits.of(s))
    # h11 bounds the request line and headers; keep-alive closes idle connections; beyond the connection
    # limit new requests get 503 at once. The body's own deadline is the application's (api.guard).
    uvicorn.run(app, host=host, port=port, log_level="info", http="h11", h11_max_incomplete_event_size=HEADER_LIMIT,
                timeout_keep_alive=s.http_keep_alive, limit_concurrency=s.http_max_connections)


def _can_listen(host: str, port: int) -> None:
    """An unknown host or a port in use is a bad argument, said in one line (uvicorn logged it and exited 3)."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
            probe.bind(address)
    except (OSError, UnicodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        raise InvalidArgument(f"cannot listen on {host}:{port}: {reason}") from None


app.add_typer(cli_training.datasets, name="datasets")
app.add_typer(cli_training.jobs, name="jobs")
app.add_typer(cli_training.connections, name="connections")
app.command()(cli_training.train)
app.command("batch-run")(cli_batch.batch_run)
app.command()(cli_deploy.deploy)
app.add_typer(cli_deploy.deployments, name="deployments")
app.add_typer(cli_deploy.routing, name="routing")
app.command("serve-model")(cli_serving.serve_model)

keys = typer.Typer(no_args_is_help=True, help="The sealer's signing key pair.")
app.add_typer(keys, name="keys")


@keys.command("generate")
def keys_generate(
    path: Annotated[Path | None, typer.Option("--out", help="the private key file (default: GOVLEDGER_SIGNING_KEY, "
                                                           "else the data directory's keys/signing.key)")] = None,
    name: Annotated[str | None, typer.Option(help="the key name, which is the checkpoint origin (default: GOVLEDGER_LOG_ORIGIN)")] = None,
) -> None:
    """Make a signing key pair: the private key (mode 0600) for the sealer alone, the public .vkey (0644) for API nodes."""
    s = Ledger().settings
    path = path or s.signing_key or s.data_dir / "keys" / "signing.key"
    signer = create_signing_key(path, name or s.log_origin)
    out.print(f"private key {path} (mode 0600): give it to the sealer only, as GOVLEDGER_SIGNING_KEY")
    out.print(f"public key {verifier_path(path)} (mode 0644): for API nodes (GOVLEDGER_VERIFY_KEY) and regulators")
    out.print(f"verifier key: {signer.verifier}")


@app.command()
def seal(once: Annotated[bool, typer.Option(help="seal what is committed now, then exit")] = False) -> None:
    """Run the sealer alone: append committed events to the Merkle tree and sign checkpoints."""
    ledger = Ledger()
    signer = ledger.signer()
    require_current(ledger.db)
    if once:
        with ledger.db.connect() as conn:
            last = seal_pending(ledger.db, conn, signer, batch=ledger.settings.seal_batch)
        out.print(f"sealed up to tree size {last.size}" if last else "nothing to seal")
        return
    _run_until_signal(lambda stop: run_sealer(ledger.db, signer, interval=ledger.settings.seal_interval,
                                              batch=ledger.settings.seal_batch, stop=stop))


@app.command()
def workers(
    only: Annotated[list[str] | None, typer.Option(help="run only these workers: sealer, projector, trainer, batch, deployer (repeatable)")] = None,
) -> None:
    """Run the workers — the sealer, the projector, a training worker, a batch worker and a deploy worker — until
    SIGINT or SIGTERM.

    Database faults are retried with back-off; a worker that cannot go on stops every worker and exits non-zero.
    Run several `govledger workers --only trainer` processes to train several jobs at once."""
    from workers.batch import run_batch_worker
    from workers.deployer import run_deployer
    from workers.jobs import worker_name
    from workers.projector import run_projector
    from workers.trainer import TrainerSettings, run_trainer

    names = ("sealer", "projector", "trainer", "batch", "deployer")
    chosen = set(only or names)
    if unknown := chosen - set(names):
        raise InvalidArgument(f"unknown worker {sorted(unknown)[0]!r}; workers are {', '.join(names)}")
    ledger = Ledger()
    signer = ledger.signer() if "sealer" in chosen else None
    require_current(ledger.db)
    gov = ledger.application(check_schema=False)
    s = ledger.settings
    trainer = TrainerSettings(lease_seconds=s.training_lease, max_dataset_bytes=s.max_dataset_bytes,
                              dask_scheduler=s.dask_scheduler, cv_folds=s.training_cv_folds)
    runs: dict[str, Callable[[threading.Event], None]] = {
        "sealer": lambda stop: run_sealer(ledger.db, signer, interval=s.seal_interval, batch=s.seal_batch, stop=stop),
        "projector": lambda stop: run_projector(ledger.db, gov, interval=s.seal_interval, stop=stop, batch=s.projector_batch),
        "trainer": lambda stop: run_trainer(gov, ledger.db, ledger.artifacts, trainer, interval=s.seal_interval, stop=stop),
        "batch": lambda stop: run_batch_worker(gov, ledger.db, ledger.artifacts, replace(trainer, name=worker_name()),
                                               interval=s.seal_interval, stop=stop),
        "deployer": lambda stop: run_deployer(gov, ledger.db, ledger.artifacts,
                                              replace(trainer, name=worker_name(), lease_seconds=s.deploy_lease),
                                              ledger.targets(), interval=s.seal_interval, stop=stop),
    }
    failures: list[BaseException] = []

    def run_all(stop: threading.Event) -> None:
        def run(name: str) -> None:
            try:
                runs[name](stop)
            except BaseException as e:  # noqa: BLE001 - handed to the main thread, which exits with it
                failures.append(e)
            finally:
                stop.set()  # one worker stopping stops them all

        threads = [threading.Thread(target=run, args=(name,), name=name, daemon=True) for name in sorted(chosen)]
        for thread in threads:
            thread.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        if failures:
            raise failures[0]  # a LedgerError: the worker loop logged it and turned any other fault into WorkerFailed

    _run_until_signal(run_all)


def _utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _run_until_signal(target: Any) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print("running; stop with Ctrl-C")
    target(stop)


projections_app = typer.Typer(no_args_is_help=True, help="Read models built from the ledger.")
app.add_typer(projections_app, name="projections")


@projections_app.command("rebuild")
def projections_rebuild(
    until: Annotated[int | None, typer.Option(min=0, help="stop after this ledger position (as the read models stood then)")] = None,
) -> None:
    """Drop the read models and rebuild them from the events, with a progress bar."""
    from projections.runner import Projector

    ledger = Ledger()
    require_current(ledger.db)
    projector = Projector(ledger.db, ledger.application(), batch=ledger.settings.projector_batch)
    with _progress() as bar:
        task = bar.add_task("rebuilding the read models", total=None)
        position = projector.rebuild(until=None if until is None else until + 1,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
    out.print(f"rebuilt the read models from {position} events")


users = typer.Typer(no_args_is_help=True, help="Users, roles and API keys.")
app.add_typer(users, name="users")


@users.command("create-admin")
def create_admin(username: Annotated[str, typer.Argument(metavar="NAME", help="the first superadmin's username")]) -> None:
    """Create the first superadmin and print its API key, once. Refused when an administrator exists."""
    gov = Ledger().application()
    token = gov.create_admin(username).api_key
    out.print(f"created superadmin {username}; API key (shown once, store it now):")
    sys.stdout.write(token + "\n")


@app.command()
def export(
    destination: Annotated[str, typer.Option("--out", help="a new directory, a .tar.gz / .zip file, or s3://BUCKET/KEY.tar.gz")],
    from_position: Annotated[int | None, typer.Option(help="first ledger position of a range")] = None,
    to_position: Annotated[int | None, typer.Option(help="last ledger position of a range (inclusive)")] = None,
    model: Annotated[str | None, typer.Option(help="every event of this model and its versions")] = None,
    subject: Annotated[str | None, typer.Option(help="every event about this data subject (a user id)")] = None,
    from_time: Annotated[datetime | None, typer.Option("--from", help="events at or after this time (UTC if no zone)")] = None,
    to_time: Annotated[datetime | None, typer.Option("--to", help="events before this time (UTC if no zone)")] = None,
    since_checkpoint: Annotated[Path | None, typer.Option(help="the checkpoint the regulator holds: add a consistency proof from it (checked with ledger-verify --held-checkpoint)")] = None,
) -> None:
    """Write a verifiable bundle for a regulator: events, an inclusion proof for each, the signed checkpoint and the key."""
    from ledger.export import export_bundle
    from ledger.s3 import S3Location, client
    from ledger.slices import choose

    target: Path | S3Location = S3Location.parse(destination) if destination.startswith("s3://") else Path(destination)
    ledger = Ledger()
    require_current(ledger.db)
    verifier = ledger.verifier()
    held = since_checkpoint.read_text() if since_checkpoint is not None else None
    gov = ledger.application()
    with ledger.db.connect() as conn:
        selection = choose(gov, ledger.db, conn, from_position=from_position, to_position=to_position,
                           since=from_time, until=to_time, model=model, subject=subject)
        s3 = client(ledger.settings.s3_endpoint_url, ledger.settings.s3_region) if isinstance(target, S3Location) else None
        manifest = export_bundle(ledger.db, conn, verifier, selection, target, held, s3=s3)
    out.print(f"wrote {destination}: {manifest['events']} events with inclusion proofs against checkpoint {manifest['tree_size']}")


@app.command("erase-subject")
def erase_subject(
    subject: Annotated[str, typer.Argument(metavar="USER_ID", help="the data subject's id (a user id)")],
    reason: Annotated[str, typer.Option(help="why: the erasure request's reference")],
) -> None:
    """Destroy a data subject's key and record SubjectErased: their personal data is unreadable forever, and verifies."""
    from ledger.slices import subject_aggregates

    gov = Ledger().application()
    subject_aggregates(gov, subject)  # a subject this ledger knows
    destroyed = gov.erase_subject(OPERATOR, subject, reason=reason).key_destroyed
    out.print(f"erased data subject {subject}" + ("" if destroyed else " (it held no key: none was made, or an earlier erasure destroyed it)"))


@app.command()
def checkpoint() -> None:
    """Print the latest signed checkpoint (a C2SP signed note)."""
    ledger = Ledger()
    require_current(ledger.db)
    with ledger.db.connect() as conn:
        row = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1").fetchone()
    if row is None:
        raise InvalidArgument("no checkpoint yet: run the sealer (`govledger seal --once`)")
    sys.stdout.write(row[0])


@app.command()
def replay(
    aggregate_id: Annotated[str, typer.Argument(metavar="ID", help="the aggregate's UUID")],
    version: Annotated[int | None, typer.Option(min=1, max=2**63 - 1, help="replay up to this version")] = None,
    at: Annotated[datetime | None, typer.Option(help="replay as of this time (ISO 8601, UTC if no zone)")] = None,
) -> None:
    """Print an aggregate as it was at a version or a point in time."""
    try:
        uid = UUID(aggregate_id)
    except ValueError:
        raise InvalidArgument(f"{aggregate_id!r} is not a UUID") from None
    aggregate = aggregate_as_of(Ledger().application(), uid, version=version, at=_utc(at))
    state = {k.lstrip("_"): v for k, v in vars(aggregate).items() if k not in ("_pending_events",)}
    out.print_json(json.dumps({"type": type(aggregate).__name__, **state}, default=str))


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=3650, help="days of the bureau feed to register")] = 400,
    rows: Annotated[int, typer.Option(min=1, max=100_000, help="applications per partition")] = 40,
) -> None:
    """Tell the governance story on the configured store: users, data, a model, refusals, evidence, approval, proof."""
    from .demo import tell

    if Ledger().settings.mode == "production":  # invented users, and a superadmin whose key sits in a file
        raise ConfigError("the demo invents users and a superadmin; it does not run in production mode")
    init()
    migrate()

    @contextmanager
    def track(description: str, total: int) -> Iterator[Callable[[int], None]]:
        with _progress() as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)

    tell(Ledger(), days, rows, out, track)


def main() -> None:
    """The console script. An expected failure is one line on stderr and a non-zero exit, never a traceback:
    1 when the ledger is tampered with, 2 for a usage error or a refused command, 130 when interrupted."""
    try:
        code = app(prog_name="govledger", standalone_mode=False)
    except IntegrityFailure as e:
        err.print(f"[bold red]TAMPERED[/] {escape(f'[{e.code}] {_one_line(e.message)}')}")
        sys.exit(1)
    except (LedgerError, DomainError) as e:
        _fail(e.code, e.message)
    except NoArgsIsHelpError:
        sys.exit(2)  # the help was printed already: a command is missing
    except typer.TyperException as e:  # unknown command or option, a missing or malformed value
        _fail("usage", e.format_message().rstrip(".") + _help_hint(getattr(e, "ctx", None)), exit_code=e.exit_code)
    except DATABASE_FAULTS as e:  # a store locked by another writer, a server gone mid-command, a file that is no database
        _fail("database_unavailable", cause(e))
    except OSError as e:  # a file named on the command line that is missing, unreadable or unwritable
        _fail("file_error", f"{e.strerror}: {e.filename}" if e.filename else str(e))
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


#: Faults of the database itself, as the drivers and eventsourcing raise them (ours arrive as DatabaseUnavailable).
DATABASE_FAULTS = (persistence.OperationalError, persistence.InterfaceError, sqlite3.DatabaseError, psycopg.OperationalError)


def _fail(code: str, message: str, *, exit_code: int = 2) -> NoReturn:
    err.print(escape(f"error [{code}]: {_one_line(message)}"))
    sys.exit(exit_code)


def _one_line(message: str) -> str:
    """A message quoting input must not forge further lines of output."""
    return " ".join(message.splitlines())


def _help_hint(ctx: typer.Context | None) -> str:
    return f". See `{ctx.command_path} --help`." if ctx is not None else "."


if __name__ == "__main__":
    main()
