"""The command line of the Deployment Manager and of Manage Model Config: deploy, terminate, and route.

These commands act as a user (--api-key-file or GOVLEDGER_API_KEY), with the same role rules as over HTTP: only
managers deploy, terminate and change routing, and every refusal is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.table import Table

from domain.errors import InvalidInput
from domain.roles import Action, Role
from domain.routing import RoutingConfig
from projections.queries import DEPLOYMENT_COLUMNS, ROUTING_COLUMNS, Query

from .bootstrap import Ledger
from .cli_training import NO_WORKER, KeyFile, acting_user, err, follow_job, out, worker_running

TARGETS = "local, aws-ec2, aws-asg or aws-lambda"
LIST_LIMIT = 10_000


def deploy(
    version: Annotated[UUID, typer.Argument(metavar="VERSION", help="the approved version's id")],
    target: Annotated[str, typer.Option(help=f"where it is served: {TARGETS}")] = "local",
    size: Annotated[str, typer.Option(help="small, medium or large: concurrency and replicas, instance type, "
                                           "group bounds or memory")] = "small",
    follow: Annotated[bool, typer.Option(help="show the provisioning until it ends")] = False,
    api_key_file: KeyFile = None,
) -> None:
    """Deploy an approved version (managers): a deploy worker (`govledger workers`) provisions it on the target."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = gov.request_deployment(actor, version, target=target, size=size)
    out.print(f"deployment {recorded.id} queued (position {recorded.position})", markup=False, highlight=False)
    if follow:
        follow_job(ledger, gov, actor, recorded.id)
        show_deployment(gov.get_deployment(actor, recorded.id))
    elif not worker_running(ledger, "deployer"):
        err.print(NO_WORKER.format(worker="deploy worker", only="deployer"), markup=False, highlight=False)


deployments = typer.Typer(no_args_is_help=True, help="Deployments: their status and resources, and termination.")


@deployments.command("list")
def deployments_list(api_key_file: KeyFile = None) -> None:
    """Every deployment the ledger holds, oldest first."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    gov.authorize(actor, Action.READ, "deployments")
    owner = str(actor.user_id) if actor.role is Role.DATA_SCIENTIST else None
    table = Table("deployment", "version", "target", "size", "status", "endpoint", "routed by")
    for row in _current(ledger, "deployments", DEPLOYMENT_COLUMNS, ("created", "deployment_id"), owner):
        table.add_row(row["deployment_id"], row["version_id"], row["target"], row["size"], row["status"],
                      row["endpoint"] or "", str(len(row["routed_by"])))
    out.print(table)


def _current(ledger: Ledger, table: str, columns: str, keys: tuple[str, ...], owner: str | None = None) -> list[dict[str, Any]]:
    """The current rows of a read model (as far as the projector has got)."""
    with ledger.db.connect() as conn:
        query = Query(ledger.db.param()).add("valid_to IS NULL").owned_by(owner)
        rows, _ = query.fetch(conn, table, columns, keys, None, LIST_LIMIT)
        conn.rollback()
    return rows


@deployments.command("show")
def deployments_show(deployment: Annotated[UUID, typer.Argument(metavar="DEPLOYMENT")],
                     api_key_file: KeyFile = None) -> None:
    """One deployment: status, resources, endpoint and the routing configs that send it traffic."""
    ledger = Ledger()
    gov = ledger.application()
    show_deployment(gov.get_deployment(acting_user(gov, api_key_file), deployment))


def show_deployment(d: Any) -> None:
    out.print(f"deployment {d.id}: version {d.version_id} on {d.target} ({d.size}), {d.status.value}"
              + (f", serving at {d.endpoint}" if d.endpoint else ""), markup=False, highlight=False)
    for resource in d.resources:
        out.print("  " + ", ".join(f"{k} {v}" for k, v in resource.items()), markup=False, highlight=False)
    error = (d.termination or {}).get("error") or d.error
    if error:
        out.print(f"  error [{error['code']}]: {error['message']}", markup=False, highlight=False)


@deployments.command("terminate")
def deployments_terminate(deployment: Annotated[UUID, typer.Argument(metavar="DEPLOYMENT")],
                          reason: Annotated[str, typer.Option(help="why it is terminated")],
                          follow: Annotated[bool, typer.Option(help="show the release until it ends")] = False,
                          api_key_file: KeyFile = None) -> None:
    """Stop serving and release every resource the target created (managers; refused while a routing config still
    sends the deployment traffic)."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = gov.terminate_deployment(actor, deployment, reason=reason)
    out.print(f"termination {recorded.id} of deployment {deployment} queued (position {recorded.position})",
              markup=False, highlight=False)
    if follow:
        follow_job(ledger, gov, actor, recorded.id)


routing = typer.Typer(no_args_is_help=True, help="Routing configs: which deployed version answers each prediction.")


def _read_body(file: Path) -> dict[str, Any]:
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"cannot read {file} as JSON: {e}") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"{file} must hold one JSON object, the routing config")
    return body


@routing.command("set")
def routing_set(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE.json",
                                         help="the config: the same JSON as POST /v1/routing-configs")],
    config: Annotated[UUID | None, typer.Option(help="replace this config's rules (default: create a new config)")] = None,
    api_key_file: KeyFile = None,
) -> None:
    """Create a routing config (its routing key is printed this once) or replace an existing config's rules."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    body = _read_body(file)
    if config is None:
        recorded = gov.create_routing_config(actor, body=body)
        out.print(f"routing config {recorded.id} created (position {recorded.position})", markup=False, highlight=False)
        out.print(f"routing key (shown once, keep it secret): {recorded.api_key}", markup=False, highlight=False)
    else:
        recorded = gov.update_routing_config(actor, config, body=body)
        out.print(f"routing config {config} changed (position {recorded.position})", markup=False, highlight=False)
    show_config(gov.routing_config(recorded.id or config))


@routing.command("show")
def routing_show(config: Annotated[UUID | None, typer.Argument(metavar="CONFIG", help="one config (default: all)")] = None,
                 history: Annotated[bool, typer.Option(help="every revision, oldest first")] = False,
                 api_key_file: KeyFile = None) -> None:
    """A routing config's current rules (or every revision), or a list of every config."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    if config is None:
        gov.authorize_routing_reads(actor)
        table = Table("config", "name", "revision", "rules", "default version", "key")
        for row in _current(ledger, "routing_configs", ROUTING_COLUMNS, ("created", "routing_config_id")):
            rule_set = row["rule_set"] or {}
            table.add_row(row["routing_config_id"], row["name"], str(row["revision"]), str(len(rule_set.get("rules", []))),
                          rule_set.get("default_version_id", ""), row["key_id"] or "revoked")
        out.print(table)
        return
    found = gov.get_routing_config(actor, config)
    for revision in (found.revisions if history else found.revisions[-1:]):
        show_revision(revision)
    if not history:
        out.print(f"key: {found.key_id or 'revoked (issue a new one)'}", markup=False, highlight=False)


@routing.command("rollback")
def routing_rollback(config: Annotated[UUID, typer.Argument(metavar="CONFIG")],
                     revision: Annotated[int, typer.Option(help="the earlier revision to route by again")],
                     api_key_file: KeyFile = None) -> None:
    """Route as an earlier revision did (checked against today's deployments), recorded as the next revision."""
    ledger = Ledger()
    gov = ledger.application()
    recorded = gov.roll_back_routing_config(acting_user(gov, api_key_file), config, revision=revision)
    out.print(f"routing config {config} rolled back to revision {revision}'s rules (position {recorded.position})",
              markup=False, highlight=False)
    show_config(gov.routing_config(config))


@routing.command("rotate-key")
def routing_rotate_key(config: Annotated[UUID, typer.Argument(metavar="CONFIG")], api_key_file: KeyFile = None) -> None:
    """Issue a new routing key (printed this once); the old one stops working."""
    ledger = Ledger()
    gov = ledger.application()
    recorded = gov.rotate_routing_key(acting_user(gov, api_key_file), config)
    out.print(f"routing key (shown once, keep it secret): {recorded.api_key}", markup=False, highlight=False)


@routing.command("revoke-key")
def routing_revoke_key(config: Annotated[UUID, typer.Argument(metavar="CONFIG")], api_key_file: KeyFile = None) -> None:
    """Revoke the config's routing key: predictions through it are refused until a new key is issued."""
    ledger = Ledger()
    gov = ledger.application()
    recorded = gov.revoke_routing_key(acting_user(gov, api_key_file), config)
    out.print(f"routing key of {config} revoked (position {recorded.position})", markup=False, highlight=False)


def show_config(config: RoutingConfig) -> None:
    out.print(f"routing config {config.id} {config.name!r}, revision {config.revision}", markup=False, highlight=False)
    if config.current:
        show_revision(config.current)


def show_revision(revision: dict[str, Any]) -> None:
    by = f" by {revision['configured_by']} at {revision['configured_at']:%Y-%m-%d %H:%M:%S}"
    rollback = f" (rollback to revision {revision['rollback_of']})" if revision.get("rollback_of") else ""
    out.print(f"revision {revision['revision']}{by}{rollback}", markup=False, highlight=False)
    table = Table("#", "rule", "when", "answers")
    for number, rule in enumerate(revision["rules"], 1):
        answers = rule.get("version_id") or ", ".join(f"{s['version_id']} {s['weight']:g}%" for s in rule["split"])
        table.add_row(str(number), rule["name"], rule["when"], answers)
    table.add_row("", "(default)", "", revision["default_version_id"])
    out.print(table)
    if revision["shadow_version_ids"]:
        out.print(f"shadows: {', '.join(revision['shadow_version_ids'])}", markup=False, highlight=False)
    for version_id, deployment_id in sorted(revision["deployments"].items()):
        out.print(f"  version {version_id} served by deployment {deployment_id}", markup=False, highlight=False)
