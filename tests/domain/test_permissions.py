"""Every cell of the role × action matrix of DESIGN.md §2, allowed and refused, at the domain level."""

from __future__ import annotations

import pytest

from domain.access import Refusal
from domain.errors import Forbidden
from domain.roles import PERMISSIONS, Action, allowed

from .world import ROLES, make_world

# DESIGN.md §2 as written there: ✓ allowed, – refused, "own" = own models only.
TABLE = """
manage users, roles, API keys                       | ✓ | – | – | –   | –
ingest data, train, export to staging               | – | – | – | ✓   | –
run batch inference                                 | – | ✓ | – | ✓   | –
edit compliance sections of a model                 | – | ✓ | ✓ | ✓   | –
set a model's compliance config (tier, sections)    | ✓ | – | ✓ | –   | –
approve / reject a model version                    | – | ✓ | – | –   | –
deploy, terminate, change routing                   | – | ✓ | – | –   | –
register a model for compliance monitoring          | ✓ | ✓ | ✓ | –   | –
read registry, jobs, reports, audit trail           | ✓ | ✓ | ✓ | own | ✓
time-travel queries, export verifiable slices       | ✓ | – | ✓ | –   | ✓
generate audit reports                              | ✓ | ✓ | ✓ | –   | ✓
"""
ROW_ACTIONS = list(Action)  # in the order of the table
CELLS = [
    (action, role, mark.strip() != "–")
    for action, line in zip(ROW_ACTIONS, TABLE.strip().splitlines())
    for role, mark in zip(ROLES, line.split("|")[1:])
]


@pytest.mark.parametrize(("action", "role", "expected"), CELLS, ids=lambda v: str(v).replace(" ", "-"))
def test_the_permission_matrix_is_design_section_2(action, role, expected):
    assert allowed(role, action) is expected
    assert (role in PERMISSIONS[action]) is expected


def _commands(w):
    """A representative command for every action the domain has commands for, prepared so only the role decides."""
    staged = w.staged_version()
    validated = w.validated_version()
    approved = w.approved_version()
    snapshot = w.snapshot_dataset()
    return {
        Action.MANAGE_USERS: lambda a: w.app.create_user(a, "newcomer", "auditor"),
        Action.TRAIN: lambda a: w.app.register_dataset(a, name="more data", source="s3://x.csv", schema={"a": "integer"},
                                                      row_count=1, content_hash="ef" * 32),
        Action.RUN_BATCH_INFERENCE: lambda a: w.app.request_batch_run(a, staged, dataset_id=snapshot,
                                                                      label_column="defaulted"),
        Action.EDIT_COMPLIANCE: lambda a: w.app.edit_section(a, w.model_id, "model_info", f"written by {a.username}"),
        Action.CONFIGURE_COMPLIANCE: lambda a: w.app.configure_compliance(a, w.model_id, risk_tier="high"),
        Action.APPROVE: lambda a: w.app.approve(a, validated, findings="reviewed", batch_run_id=w.runs[validated]),
        Action.DEPLOY: lambda a: w.app.request_deployment(a, approved),
        Action.REGISTER_MONITORING: lambda a: w.app.register_monitoring(a, w.model_id),
        Action.READ: lambda a: w.app.get_model(a, w.model_id),
    }


COMMAND_CELLS = [c for c in CELLS if c[0] not in (Action.TIME_TRAVEL, Action.REPORT)]


@pytest.mark.parametrize(("action", "role", "expected"), COMMAND_CELLS, ids=lambda v: str(v).replace(" ", "-"))
def test_each_command_is_allowed_or_refused_and_recorded_by_role(action, role, expected):
    w = make_world()
    command = _commands(w)[action]
    actor = w.actor(role)
    before = w.events()
    if expected:
        command(actor)
        return
    with pytest.raises(Forbidden):
        command(actor)
    assert w.events() == before + 1  # the refusal, and nothing of the command
    refusal = w.app.repository.get(w.app.recorder.select_notifications(start=before + 1, limit=1)[0].originator_id)
    assert isinstance(refusal, Refusal)
    assert (refusal.username, refusal.role, refusal.action, refusal.code) == (actor.username, role.value, action.value, "forbidden")


def test_a_data_scientist_reads_and_documents_only_models_they_own():
    w = make_world()
    with pytest.raises(Forbidden, match="only the models they own"):
        w.app.get_model(w.other_data_scientist, w.model_id)
    with pytest.raises(Forbidden, match="only the models they own"):
        w.app.edit_section(w.other_data_scientist, w.model_id, "model_info", "not mine")
    assert w.app.get_model(w.ds, w.model_id).name == "credit-default"
