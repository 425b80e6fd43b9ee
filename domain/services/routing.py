"""Routing: managers create and change routing configs and their keys; prediction callers authenticate with a key.

A config is checked against the versions it names before anything is recorded: each must exist and be served by an
active deployment, each field a rule reads must be an input of the versions the rule sends to, with an operator and
value that fit its type (domain.routing_rules). The deployment serving each version is named in the recorded rule
set, and each deployment records which configs route to it in the same save, so a deployment cannot be terminated
while a config still sends it traffic, and a config cannot route to a deployment being terminated.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ..deployments import Deployment
from ..errors import InvalidInput, NotFound, Unauthenticated
from ..models import ModelVersion
from ..roles import Action, Actor
from ..routing import (
    RoutingConfig,
    RoutingKey,
    hash_routing_key,
    new_routing_key,
    parse_routing_key,
    routing_key_id_for,
)
from ..routing_rules import RuleSet, VersionFacts, check_config, versions_named
from .guard import Pending, Service, command, pending, query


class Routing(Service):
    """Routing configs, their revisions and their keys."""

    def routing_config(self, config_id: UUID) -> RoutingConfig:
        return self._get(config_id, RoutingConfig, "routing config")

    def serving_deployment(self, version: ModelVersion) -> Deployment | None:
        """The deployment that answers for a version: its latest active local one (the service serves it itself),
        else its latest active one on any target."""
        serving = [d for d in (self._deployment(i) for i in version.deployments) if d is not None and d.serving]
        serving.sort(key=lambda d: (d.target == "local", d.provisioned_at))
        return serving[-1] if serving else None

    def _deployment(self, ident: str) -> Deployment | None:
        try:
            found = self.repository.get(UUID(ident))
        except (ValueError, AggregateNotFoundError):
            return None  # a deployment recorded before deployments were jobs of their own
        return found if isinstance(found, Deployment) else None

    def _resolve(self, body: Any) -> tuple[RuleSet, dict[str, Deployment]]:
        """The rule set, checked against the versions it names, and the deployment serving each version it uses."""
        facts: dict[str, VersionFacts] = {}
        serving: dict[str, Deployment] = {}
        for ident in versions_named(body):
            try:
                version = self._get(UUID(ident), ModelVersion, "model version")
            except (ValueError, NotFound):  # not a version at all: the check names it
                continue
            deployment = self.serving_deployment(version)
            facts[ident] = VersionFacts(input_schema=version.input_schema, deployed=deployment is not None)
            if deployment is not None:
                serving[ident] = deployment
        rule_set = check_config(body, facts)
        used = answering_versions(rule_set) | set(rule_set.shadow_version_ids)
        return rule_set, {v: serving[v] for v in used}

    def _configure(self, actor: Actor, config: RoutingConfig, body: Any, rollback_of: int | None = None) -> Pending:
        if not isinstance(body, dict):
            raise InvalidInput("a routing config is a JSON object")
        rule_set, serving = self._resolve(body)
        before = set(config.deployments.values())
        config.configure(name=body.get("name", config.name), rule_set=rule_set,
                         deployments={v: str(d.id) for v, d in serving.items()}, by=actor.user_id,
                         by_name=actor.username, rollback_of=rollback_of)
        touched: dict[str, Deployment] = {}
        for deployment in serving.values():
            deployment.route_from(config.id, config.name, actor.username)
            touched[str(deployment.id)] = deployment
        for gone in before - set(touched):
            deployment = self._deployment(gone)
            if deployment is not None:
                deployment.unroute_from(config.id, actor.username)
                touched[gone] = deployment
        return pending(config, *touched.values(), id=config.id)

    @command(Action.DEPLOY, "routing_config")
    def create_routing_config(self, actor: Actor, *, body: Any) -> Pending:
        """A new config with its first rules, and its routing key, answered this once (`api_key`)."""
        if not isinstance(body, dict):
            raise InvalidInput("a routing config is a JSON object")
        config = RoutingConfig.create(name=body.get("name"), by=actor.user_id, by_name=actor.username)
        configured = self._configure(actor, config, body)
        key_id, token = new_routing_key()
        key = RoutingKey(key_id, config.id, hash_routing_key(token), actor.username)
        config.key_issued(key_id, actor.username)
        return pending(*configured.aggregates, key, id=config.id, key_id=key_id, api_key=token)

    @command(Action.DEPLOY, "routing_config", "config_id")
    def update_routing_config(self, actor: Actor, config_id: UUID, *, body: Any) -> Pending:
        """Replace the whole rule set: the next revision."""
        return self._configure(actor, self.routing_config(config_id), body)

    @command(Action.DEPLOY, "routing_config", "config_id")
    def roll_back_routing_config(self, actor: Actor, config_id: UUID, *, revision: int) -> Pending:
        """Route as an earlier revision did, checked against today's deployments, recorded as the next revision."""
        config = self.routing_config(config_id)
        return self._configure(actor, config, config.revision_body(revision), rollback_of=revision)

    @command(Action.DEPLOY, "routing_config", "config_id")
    def rotate_routing_key(self, actor: Actor, config_id: UUID) -> Pending:
        """A new key for the config, answered this once; the old one stops working in the same save."""
        config = self.routing_config(config_id)
        old = self._revoke(actor, config)
        key_id, token = new_routing_key()
        key = RoutingKey(key_id, config.id, hash_routing_key(token), actor.username)
        config.key_issued(key_id, actor.username)
        return pending(config, *old, key, id=config.id, key_id=key_id, api_key=token)

    @command(Action.DEPLOY, "routing_config", "config_id")
    def revoke_routing_key(self, actor: Actor, config_id: UUID) -> Pending:
        """The config's key stops working; predictions through it are refused until a new one is issued."""
        config = self.routing_config(config_id)
        return pending(config, *self._revoke(actor, config), id=config.id)

    def _revoke(self, actor: Actor, config: RoutingConfig) -> list[RoutingKey]:
        if config.key_id is None:
            return []
        key = self._get(routing_key_id_for(config.key_id), RoutingKey, "routing key")
        key.revoke(actor.username)
        config.key_revoked(config.key_id, actor.username)
        return [key]

    @query(Action.READ_ROUTING, "routing_config", "config_id")
    def get_routing_config(self, actor: Actor, config_id: UUID) -> RoutingConfig:
        return self.routing_config(config_id)

    @query(Action.READ_ROUTING, "routing_config")
    def authorize_routing_reads(self, actor: Actor) -> None:
        """A list of configs is read by the roles that read configs; a refusal is recorded."""

    def authenticate_routing_key(self, token: str) -> RoutingConfig:
        """The config a routing key selects; unknown, malformed and revoked keys are refused alike."""
        key_id = parse_routing_key(token)
        try:
            key = self._get(routing_key_id_for(key_id), RoutingKey, "routing key")
        except NotFound:
            raise Unauthenticated("the routing key is unknown or revoked") from None
        key.check_key(token)
        return self.routing_config(key.routing_config_id)


def answering_versions(rule_set: RuleSet) -> set[str]:
    """Every version the rules, their splits and the default send requests to."""
    found = {rule_set.default_version_id}
    for rule in rule_set.as_dict()["rules"]:
        found |= {rule["version_id"]} if rule.get("version_id") else {s["version_id"] for s in rule["split"]}
    return found
