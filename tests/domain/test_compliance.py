"""The compliance framework: twelve sections, a configuration per model, and a score with its breakdown."""

from __future__ import annotations

import pytest

from domain.compliance import SECTIONS, SectionStatus
from domain.errors import InvalidInput

from .world import make_world


def by_section(score):
    return {row.section: row for row in score.sections}


def test_a_new_model_scores_zero_and_says_no_evidence_yet_where_the_ledger_has_none():
    w = make_world()
    score = w.app.compliance_score(w.compliance, w.model_id)
    rows = by_section(score)
    assert score.score == 0 and len(rows) == len(SECTIONS) == 12
    assert {rows[s].status for s in ("performance", "explainability", "drift_monitoring", "approvals", "deployment",
                                     "audit_logging")} == {SectionStatus.NO_EVIDENCE}
    assert rows["model_info"].status is SectionStatus.MISSING


def test_manual_edits_record_before_and_after():
    w = make_world()
    w.app.edit_section(w.compliance, w.model_id, "consent", "first wording")
    w.app.edit_section(w.ds, w.model_id, "consent", "second wording")
    edits = [e for e in w.app.repository.event_store.get(w.model_id) if type(e).__name__ == "ComplianceSectionEdited"]
    assert [(e.before, e.after, e.edited_by) for e in edits] == [
        (None, "first wording", "compliance-manager"), ("first wording", "second wording", "data-scientist")]


def test_the_score_follows_the_documented_formula():
    w = make_world()
    w.app.configure_compliance(w.compliance, w.model_id, risk_tier="low", applicable=["model_info", "consent", "performance"],
                               mandatory=["model_info"])
    w.app.edit_section(w.compliance, w.model_id, "model_info", "credit model")
    score = w.app.compliance_score(w.compliance, w.model_id)
    # model_info complete (weight 2 × 1.0), consent missing (1 × 0), performance no evidence (1 × 0): 2 / 4
    assert score.score == 50
    assert [(r.section, r.weight, r.points) for r in score.sections] == [
        ("model_info", 2, 1.0), ("consent", 1, 0.0), ("performance", 1, 0.0)]


def test_a_section_written_before_the_latest_retraining_is_stale():
    w = make_world()
    w.app.edit_section(w.compliance, w.model_id, "model_info", "documented for version 1")
    before = by_section(w.app.compliance_score(w.compliance, w.model_id))["model_info"]
    w.new_version()
    after = by_section(w.app.compliance_score(w.compliance, w.model_id))["model_info"]
    assert before.status is SectionStatus.COMPLETE and after.status is SectionStatus.STALE and after.points == 0.5


def test_automatic_sections_come_from_the_latest_versions_evidence():
    w = make_world()
    version = w.validated_version(drift=True)
    rows = by_section(w.app.compliance_score(w.compliance, w.model_id))
    assert rows["performance"].status is SectionStatus.COMPLETE and "roc_auc 0.800" in rows["performance"].detail
    assert rows["drift_monitoring"].status is SectionStatus.FAILING
    assert rows["explainability"].status is SectionStatus.COMPLETE
    assert rows["approvals"].status is SectionStatus.NO_EVIDENCE
    w.document()
    w.app.approve(w.manager, version, findings="ok", justification="Drift is the expected seasonal shift in incomes.",
                  batch_run_id=w.runs[version])
    assert by_section(w.app.compliance_score(w.compliance, w.model_id))["approvals"].status is SectionStatus.COMPLETE


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"risk_tier": "extreme"}, "risk tier"),
    ({"risk_tier": "high", "applicable": ["model_info", "horoscope"]}, "unknown compliance sections"),
    ({"risk_tier": "high", "applicable": ["model_info"], "mandatory": ["consent"]}, "mandatory sections must apply"),
    ({"risk_tier": "high", "applicable": []}, "at least one"),
])
def test_bad_compliance_configs_are_refused(kwargs, message):
    w = make_world()
    with pytest.raises(InvalidInput, match=message):
        w.app.configure_compliance(w.compliance, w.model_id, **kwargs)


def test_only_sections_people_write_can_be_edited():
    w = make_world()
    with pytest.raises(InvalidInput, match="not a section people write"):
        w.app.edit_section(w.compliance, w.model_id, "performance", "AUC is great")
