"""Attacks with input the stores cannot hold: each is refused as invalid input and nothing is appended, and a caller
who may not act at all is refused (and recorded) whatever garbage they sent."""

from __future__ import annotations

import hashlib

import pytest

from domain.access import Refusal
from domain.errors import Forbidden, InvalidInput
from domain.inputs import INT64_MAX, INT64_MIN, check_value

from .world import World, make_world

LONE_SURROGATE, NUL, TEN_MB = "\ud800", "a\x00b", "x" * 10_000_000
SHA = hashlib.sha256(b"bytes").hexdigest()


def _text_fields(w: World) -> dict[str, object]:
    """field → a command that records `text` in that field, everything else valid."""
    staged, validated, approved = w.staged_version(), w.validated_version(), w.approved_version()
    served = w.approved_version()
    deployed = w.deploy(served)
    version = {"artifact": b"bytes", "declared_hash": SHA, "estimator": "e", "metrics": {"auc": 0.5}, "input_schema": {"a": "float"},
                   "target": "y", "dataset_ids": [w.dataset_id]}
    dataset = {"name": "d", "source": "s", "schema": {"a": "integer"}, "row_count": 1, "content_hash": "ab" * 32}
    snapshot = w.snapshot_dataset()
    queued_run = w.app.request_batch_run(w.manager, staged, dataset_id=snapshot).id
    return {
        "dataset name": lambda t: w.app.register_dataset(w.ds, **{**dataset, "name": t}),
        "dataset source": lambda t: w.app.register_dataset(w.ds, **{**dataset, "source": t}),
        "model name": lambda t: w.app.register_model(w.ds, name=t),
        "model description": lambda t: w.app.register_model(w.ds, name="m", description=t),
        "estimator": lambda t: w.app.import_version(w.ds, w.model_id, **{**version, "estimator": t}),
        "target": lambda t: w.app.import_version(w.ds, w.model_id, **{**version, "target": t}),
        "metric name": lambda t: w.app.import_version(w.ds, w.model_id, **{**version, "metrics": {t: 0.5}}),
        "label column": lambda t: w.app.request_batch_run(w.manager, staged, dataset_id=snapshot, label_column=t),
        "cancellation reason": lambda t: w.app.cancel_batch_run(w.manager, queued_run, reason=t),
        "section": lambda t: w.app.edit_section(w.compliance, w.model_id, "consent", t),
        "findings": lambda t: w.app.approve(w.manager, validated, findings=t, batch_run_id=w.runs[validated]),
        "justification": lambda t: w.app.approve(w.manager, validated, findings="ok", justification=t,
                                                 batch_run_id=w.runs[validated]),
        "rejection": lambda t: w.app.reject(w.manager, validated, findings=t),
        "deployment target": lambda t: w.app.request_deployment(w.manager, approved, target=t),
        "termination reason": lambda t: w.app.terminate_deployment(w.manager, deployed, reason=t),
        "routing config name": lambda t: w.app.create_routing_config(
            w.manager, body={"name": t, "rules": [], "default_version_id": str(served)}),
        "routing rule name": lambda t: w.app.create_routing_config(w.manager, body={
            "name": "r", "default_version_id": str(served),
            "rules": [{"name": t, "when": {"field": "income", "op": "gt", "value": 1}, "version_id": str(served)}]}),
        "retirement reason": lambda t: w.app.retire(w.manager, approved, reason=t),
        "e-mail": lambda t: w.app.create_user(w.admin, "newcomer", "auditor", email=f"{t}@bank.example"),
        "key label": lambda t: w.app.issue_api_key(w.admin, "manager", t),
        "erasure reason": lambda t: w.app.erase_subject(w.admin, str(w.manager.user_id), reason=t),
    }


FIELDS = [
    "dataset name", "dataset source", "model name", "model description", "estimator", "target", "metric name", "label column",
    "cancellation reason", "section", "findings", "justification", "rejection", "deployment target", "termination reason",
    "routing config name", "routing rule name", "retirement reason",
    "e-mail", "key label", "erasure reason"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("text", [LONE_SURROGATE, NUL, TEN_MB], ids=["lone-surrogate", "nul", "10-MB"])
def test_text_the_stores_cannot_hold_is_refused_in_every_field_and_nothing_is_appended(field, text):
    w = make_world()
    w.app.vault = _Vault()
    attempt = _text_fields(w)[field]
    before = w.events()
    with pytest.raises(InvalidInput):
        attempt(text)
    assert w.events() == before


@pytest.mark.parametrize("row_count", [INT64_MAX + 1, INT64_MIN - 1, 99999999999999999999999999999])
def test_a_row_count_outside_int64_is_refused_before_it_reaches_a_store(row_count):
    w = make_world()
    before = w.events()
    with pytest.raises(InvalidInput, match="row count"):
        w.app.register_dataset(w.ds, name="d", source="s", schema={"a": "integer"}, row_count=row_count,
                               content_hash="ab" * 32)
    assert w.events() == before


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, float("inf"), float("nan"), LONE_SURROGATE, NUL,
                                   TEN_MB, {"k": [INT64_MAX + 1]}, list(range(100_000)), {LONE_SURROGATE: 1}])
def test_every_event_field_is_checked_recursively_whatever_the_command(value):
    with pytest.raises(InvalidInput):
        check_value(value, "field")


@pytest.mark.parametrize("edge", [INT64_MAX, INT64_MIN, 0.0, "ok", {"a": [1, "b"]}])
def test_values_the_stores_hold_pass(edge):
    check_value(edge, "field")


@pytest.mark.parametrize("where", ["dataset", "version"])
def test_a_hundred_thousand_column_schema_is_refused_and_nothing_is_appended(where):
    w = make_world()
    schema = {f"c{i}": "float" for i in range(100_000)}
    before = w.events()
    with pytest.raises(InvalidInput, match="at most 1000 columns"):
        if where == "dataset":
            w.app.register_dataset(w.ds, name="wide", source="s", schema=schema, row_count=1, content_hash="ab" * 32)
        else:
            w.app.import_version(w.ds, w.model_id, artifact=b"bytes", declared_hash=SHA, estimator="e",
                                 metrics={"auc": 0.5}, input_schema=schema, target="y", dataset_ids=[w.dataset_id])
    assert w.events() == before


def test_an_unauthorised_caller_sending_a_lone_surrogate_is_refused_and_the_refusal_is_recorded_once():
    w = make_world()
    auditor = w.actor(next(r for r in w.actors if r.value == "auditor"))
    before = w.events()
    with pytest.raises(Forbidden):
        w.app.register_model(auditor, name=LONE_SURROGATE + NUL + TEN_MB)
    assert w.events() == before + 1
    refusal = w.app.repository.get(w.app.recorder.select_notifications(start=w.events(), limit=1)[0].originator_id)
    assert isinstance(refusal, Refusal) and refusal.subject_kind == "model"
    assert refusal.subject_id.startswith("\\ud800") and "\x00" not in refusal.subject_id and len(refusal.subject_id) < 300


def test_a_non_owner_sending_a_lone_surrogate_is_refused_not_told_their_input_is_invalid():
    w = make_world()
    before = w.events()
    with pytest.raises(Forbidden):
        w.app.edit_section(w.other_data_scientist, w.model_id, "consent", LONE_SURROGATE)
    assert w.events() == before + 1


class _Vault:
    """Enough of a subject-key vault for the e-mail and erasure fields."""

    def encrypt(self, subject: str, plaintext: str) -> str:
        return f"gls1:{subject}:{plaintext.encode().hex()}"

    def decrypt(self, token: str) -> str:
        return token

    def erase(self, subject: str) -> bool:
        return True

    def knows(self, subject: str) -> bool:
        return True
