"""Compliance work on a model: its configuration, the sections people write, monitoring, and its score."""

from __future__ import annotations

from uuid import UUID

from ..compliance import ComplianceConfig, ComplianceScore, score
from ..models import Model, ModelVersion
from ..roles import Action, Actor, check_can_read, check_owns
from .guard import Pending, Service, command, pending, query


class Compliance(Service):
    """Compliance managers configure; managers, compliance managers and owning data scientists document."""

    def _model(self, actor: Actor, model_id: UUID) -> Model:
        model = self._get(model_id, Model, "model")
        check_owns(actor, model.owner)  # data scientists document only their own models
        return model

    @command(Action.CONFIGURE_COMPLIANCE, "model", "model_id")
    def configure_compliance(self, actor: Actor, model_id: UUID, *, risk_tier: str, applicable: list[str] | None = None,
                             mandatory: list[str] | None = None, thresholds: dict[str, float] | None = None) -> Pending:
        model = self._model(actor, model_id)
        model.configure_compliance(ComplianceConfig.build(risk_tier, applicable, mandatory, thresholds), actor.username)
        return pending(model, id=model.id)

    @command(Action.EDIT_COMPLIANCE, "model", "model_id")
    def edit_section(self, actor: Actor, model_id: UUID, section: str, content: str) -> Pending:
        model = self._model(actor, model_id)
        model.edit_section(section, content, actor.username)
        return pending(model, id=model.id)

    @command(Action.REGISTER_MONITORING, "model", "model_id")
    def register_monitoring(self, actor: Actor, model_id: UUID) -> Pending:
        model = self._model(actor, model_id)
        model.register_monitoring(actor.username)
        return pending(model, id=model.id)

    @query(Action.READ, "model", "model_id")
    def compliance_score(self, actor: Actor, model_id: UUID) -> ComplianceScore:
        model = self._get(model_id, Model, "model")
        check_can_read(actor, model.owner)
        latest = self._get(model.version_ids[-1], ModelVersion, "model version") if model.version_ids else None
        return score(model, latest)
