"""The compliance framework: twelve sections, a per-model configuration, and the score.

The formula is in docs/compliance.md. Sections people write are scored on completion and
currency (one written before the latest retraining is stale); sections filled from the ledger
say "no evidence yet" until their evidence exists, and never invent a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import InvalidInput


class RiskTier(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class SectionDef:
    title: str
    manual: bool


SECTIONS: dict[str, SectionDef] = {
    "model_info": SectionDef("Model information", True),
    "domain_context": SectionDef("Domain context", True),
    "fairness_bias": SectionDef("Fairness and bias", True),
    "provenance": SectionDef("Data provenance", True),
    "consent": SectionDef("Consent and lawful basis", True),
    "risk_classification": SectionDef("Risk classification", True),
    "performance": SectionDef("Performance", False),
    "explainability": SectionDef("Explainability", False),
    "drift_monitoring": SectionDef("Drift monitoring", False),
    "approvals": SectionDef("Approvals", False),
    "deployment": SectionDef("Deployment", False),
    "audit_logging": SectionDef("Audit logging", False),
}

#: Mandatory sections when a compliance manager has not chosen: everything for high risk.
DEFAULT_MANDATORY: dict[RiskTier, frozenset[str]] = {
    RiskTier.HIGH: frozenset(SECTIONS),
    RiskTier.MEDIUM: frozenset({"model_info", "domain_context", "fairness_bias", "risk_classification", "performance", "approvals"}),
    RiskTier.LOW: frozenset({"model_info", "risk_classification", "approvals"}),
}


#: What makes a batch run show drift or a fairness breach, by risk tier (a higher tier is stricter): the significance
#: of the KS and chi-square tests (small references), the normed Wasserstein and Jensen–Shannon distances (large
#: ones), the PSI bands, the share of drifted features that is dataset drift, and the disparate-impact ratio below
#: which the four-fifths rule is breached. A compliance config may override any of them for its model.
TIER_THRESHOLDS: dict[RiskTier, dict[str, float]] = {
    RiskTier.HIGH: {"p_value": 0.05, "distance": 0.1, "psi_warn": 0.1, "psi_drift": 0.2, "dataset_share": 0.3,
                    "four_fifths": 0.8},
    RiskTier.MEDIUM: {"p_value": 0.05, "distance": 0.1, "psi_warn": 0.1, "psi_drift": 0.25, "dataset_share": 0.5,
                      "four_fifths": 0.8},
    RiskTier.LOW: {"p_value": 0.01, "distance": 0.15, "psi_warn": 0.1, "psi_drift": 0.25, "dataset_share": 0.5,
                   "four_fifths": 0.8},
}


def check_thresholds(overrides: Any) -> dict[str, float]:
    """Overrides of some thresholds: known names, numbers in (0, 1]."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise InvalidInput("thresholds is a mapping of threshold name to number")
    known = TIER_THRESHOLDS[RiskTier.MEDIUM]
    for name, value in overrides.items():
        if name not in known:
            raise InvalidInput(f"unknown threshold {name!r}; thresholds are {', '.join(known)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise InvalidInput(f"threshold {name} must be a number above 0 and at most 1")
    return {k: float(v) for k, v in overrides.items()}


@dataclass(frozen=True)
class ComplianceConfig:
    risk_tier: RiskTier
    applicable: frozenset[str]
    mandatory: frozenset[str]
    overrides: tuple[tuple[str, float], ...] = ()  # thresholds set for this model, over its tier's

    @property
    def thresholds(self) -> dict[str, float]:
        return {**TIER_THRESHOLDS[self.risk_tier], **dict(self.overrides)}

    @classmethod
    def default(cls) -> ComplianceConfig:
        return cls(RiskTier.MEDIUM, frozenset(SECTIONS), DEFAULT_MANDATORY[RiskTier.MEDIUM])

    @classmethod
    def build(cls, risk_tier: str, applicable: list[str] | None = None, mandatory: list[str] | None = None,
              thresholds: dict[str, float] | None = None) -> ComplianceConfig:
        try:
            tier = RiskTier(risk_tier)
        except ValueError:
            raise InvalidInput(f"risk tier {risk_tier!r} is not one of high, medium, low") from None
        chosen = frozenset(applicable) if applicable is not None else frozenset(SECTIONS)
        required = frozenset(mandatory) if mandatory is not None else DEFAULT_MANDATORY[tier] & chosen
        unknown = (chosen | required) - SECTIONS.keys()
        if unknown:
            raise InvalidInput(f"unknown compliance sections: {', '.join(sorted(unknown))}")
        if not chosen:
            raise InvalidInput("at least one compliance section must apply")
        if not required <= chosen:
            raise InvalidInput(f"mandatory sections must apply: {', '.join(sorted(required - chosen))}")
        return cls(tier, chosen, required, tuple(sorted(check_thresholds(thresholds).items())))


class SectionStatus(StrEnum):
    COMPLETE = "complete"
    STALE = "stale"
    FAILING = "failing"
    NO_EVIDENCE = "no evidence yet"
    MISSING = "missing"


POST_APPROVAL = frozenset({"approvals", "deployment", "audit_logging"})

POINTS = {SectionStatus.COMPLETE: 1.0, SectionStatus.STALE: 0.5, SectionStatus.FAILING: 0.25,
          SectionStatus.NO_EVIDENCE: 0.0, SectionStatus.MISSING: 0.0}
WEIGHT_MANDATORY, WEIGHT_OPTIONAL = 2, 1


@dataclass(frozen=True)
class SectionScore:
    section: str
    status: SectionStatus
    mandatory: bool
    weight: int
    points: float
    detail: str


@dataclass(frozen=True)
class ComplianceScore:
    score: int
    risk_tier: RiskTier
    sections: list[SectionScore]

    @property
    def blocking_approval(self) -> list[str]:
        """Mandatory sections that keep a version from approval: missing, without evidence, or stale.

        Sections whose evidence can only follow approval (approvals, deployment, audit logging) do not
        block it, and a failing drift section is answered by the written-justification rule instead.
        """
        return [s.section for s in self.sections
                if s.mandatory and s.section not in POST_APPROVAL
                and s.status in (SectionStatus.MISSING, SectionStatus.NO_EVIDENCE, SectionStatus.STALE)]


def _manual(section: str, written: dict[str, Any] | None, retrained_at: datetime | None) -> tuple[SectionStatus, str]:
    if not written:
        return SectionStatus.MISSING, "not written yet"
    if retrained_at is not None and written["edited_at"] < retrained_at:
        return SectionStatus.STALE, f"written {written['edited_at']:%Y-%m-%d} before the latest version was trained"
    return SectionStatus.COMPLETE, f"written by {written['edited_by']} on {written['edited_at']:%Y-%m-%d}"


def _automatic(section: str, version: Any | None) -> tuple[SectionStatus, str]:
    """Evidence from the latest version's own events; absent evidence is said, never invented."""
    if version is None:
        return SectionStatus.NO_EVIDENCE, "no version yet"
    run = version.last_batch_run
    if section == "performance":
        if run is None:
            return SectionStatus.NO_EVIDENCE, "no batch run computed on the latest version"
        if set(run["metrics"]) == {"rows"}:  # scored without a label column: nothing to measure performance against
            return SectionStatus.NO_EVIDENCE, f"batch run {run['run_id']} had no label column, so no performance figures"
        shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(run["metrics"].items()))
        return SectionStatus.COMPLETE, f"batch run {run['run_id']}: {shown}"
    if section == "explainability":
        if run is None or "explanations" not in run["report_hashes"]:
            return SectionStatus.NO_EVIDENCE, "no explanation report on the latest version"
        return SectionStatus.COMPLETE, f"explanation report sha256 {run['report_hashes']['explanations'][:12]}…"
    if section == "drift_monitoring":
        if run is None or "drift" not in run["report_hashes"]:
            return SectionStatus.NO_EVIDENCE, "no drift report on the latest version"
        if run["drift_detected"]:
            return SectionStatus.FAILING, f"drift detected in {run['drift_share']:.0%} of features"
        return SectionStatus.COMPLETE, f"no dataset drift ({run['drift_share']:.0%} of features drifted)"
    if section == "approvals":
        if version.decision is None:
            return SectionStatus.NO_EVIDENCE, f"version {version.number} is {version.status}, not reviewed yet"
        if version.status == "rejected":
            return SectionStatus.FAILING, f"version {version.number} was rejected: {version.decision['findings']}"
        return SectionStatus.COMPLETE, f"trained by {version.trained_by_name}, approved {version.decision['at']:%Y-%m-%d}"
    if section == "deployment":
        if version.deployment is None:
            return SectionStatus.NO_EVIDENCE, "the latest version has not been deployed"
        return SectionStatus.COMPLETE, f"deployed to {version.deployment['target']} on {version.deployment['at']:%Y-%m-%d}"
    if section == "audit_logging":
        return SectionStatus.NO_EVIDENCE, "no predictions recorded for the latest version yet"
    raise InvalidInput(f"unknown automatic section {section!r}")


def score(model: Any, latest_version: Any | None) -> ComplianceScore:
    """Score a model (docs/compliance.md): Σ weight × points over applicable sections, as a share of 100."""
    config: ComplianceConfig = model.config
    retrained_at = latest_version.created_on if latest_version is not None else None
    rows = []
    for section in (s for s in SECTIONS if s in config.applicable):
        if SECTIONS[section].manual:
            status, detail = _manual(section, model.sections.get(section), retrained_at)
        else:
            status, detail = _automatic(section, latest_version)
        mandatory = section in config.mandatory
        weight = WEIGHT_MANDATORY if mandatory else WEIGHT_OPTIONAL
        rows.append(SectionScore(section, status, mandatory, weight, POINTS[status], detail))
    total = sum(r.weight for r in rows)
    value = round(100 * sum(r.weight * r.points for r in rows) / total) if total else 0
    return ComplianceScore(value, config.risk_tier, rows)
