"""The lifecycle trained → staged → validated → approved | rejected → deployed → terminated → retired, and bad input."""

from __future__ import annotations

import hashlib

import pytest

from domain.errors import ArtifactMismatch, IllegalTransition, InvalidInput, NotFound
from domain.models import Status

from .world import make_world


def test_a_version_walks_the_whole_lifecycle():
    w = make_world()
    version = w.new_version()
    seen = [w.app.get_version(w.ds, version).status]
    w.app.export_to_staging(w.ds, version)
    seen.append(w.app.get_version(w.ds, version).status)
    w.batch_run(version)
    seen.append(w.app.get_version(w.ds, version).status)
    w.document()
    w.app.approve(w.manager, version, findings="meets policy", batch_run_id=w.runs[version])
    seen.append(w.app.get_version(w.ds, version).status)
    deployment = w.deploy(version)
    seen.append(w.app.get_version(w.ds, version).status)
    w.terminate(deployment)
    seen.append(w.app.get_version(w.ds, version).status)
    w.app.retire(w.manager, version, reason="archived after the 2026 review")
    seen.append(w.app.get_version(w.ds, version).status)
    assert seen == [Status.TRAINED, Status.STAGED, Status.VALIDATED, Status.APPROVED, Status.DEPLOYED,
                    Status.TERMINATED, Status.RETIRED]


def test_a_rejected_version_can_only_be_retired():
    w = make_world()
    version = w.validated_version()
    w.app.reject(w.manager, version, findings="AUC below policy")
    with pytest.raises(IllegalTransition):
        w.app.request_deployment(w.manager, version)
    w.app.retire(w.manager, version, reason="rejected in review")
    assert w.app.get_version(w.ds, version).status is Status.RETIRED


def test_a_retrained_model_gets_a_new_version_that_walks_the_same_path():
    w = make_world()
    first = w.approved_version()
    second = w.new_version(artifact=b"retrained pipeline")
    assert w.app.get_version(w.ds, second).number == 2
    assert w.app.get_version(w.ds, second).status is Status.TRAINED
    assert w.app.get_version(w.ds, first).status is Status.APPROVED


@pytest.mark.parametrize("step", ["export", "approve", "deploy", "retire"])
def test_illegal_transitions_are_refused_and_leave_the_version_as_it_was(step):
    w = make_world()
    version = w.staged_version()
    if step == "export":
        attempt = lambda: w.app.export_to_staging(w.ds, version)  # noqa: E731
    elif step == "approve":
        w.batch_run(version)
        w.document()
        w.app.approve(w.manager, version, findings="ok", batch_run_id=w.runs[version])
        attempt = lambda: w.app.approve(w.manager, version, findings="again", batch_run_id=w.runs[version])  # noqa: E731
    else:
        attempt = {"deploy": lambda: w.app.request_deployment(w.manager, version),
                   "retire": lambda: w.app.retire(w.manager, version, reason="x")}[step]
    status = w.app.get_version(w.ds, version).status
    with pytest.raises(IllegalTransition):
        attempt()
    assert w.app.get_version(w.ds, version).status is status


def test_an_artifact_whose_bytes_do_not_match_its_declared_hash_is_refused_and_nothing_is_appended():
    w = make_world()
    before = w.events()
    with pytest.raises(ArtifactMismatch, match="declared"):
        w.app.import_version(w.ds, w.model_id, artifact=b"the real bytes", declared_hash=hashlib.sha256(b"other").hexdigest(),
                             estimator="x", metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y",
                             dataset_ids=[w.dataset_id])
    assert w.events() == before
    assert w.app.artifacts.blobs == {}


@pytest.mark.parametrize(("changes", "message"), [
    ({"input_schema": {}}, "non-empty mapping"),
    ({"input_schema": {"age": "int64"}}, "has type 'int64'"),
    ({"input_schema": {"1age": "integer"}}, "identifier"),
    ({"metrics": {}}, "non-empty mapping"),
    ({"metrics": {"auc": "high"}}, "finite number"),
    ({"target": "age"}, "not one of the input features"),
    ({"dataset_ids": []}, "lineage"),
])
def test_malformed_versions_are_refused_with_a_clear_message(changes, message):
    w = make_world()
    args = {"artifact": b"bytes", "declared_hash": hashlib.sha256(b"bytes").hexdigest(), "estimator": "x",
            "metrics": {"auc": 0.7}, "input_schema": {"age": "integer"}, "target": "defaulted", "dataset_ids": [w.dataset_id]}
    before = w.events()
    with pytest.raises(InvalidInput, match=message):
        w.app.import_version(w.ds, w.model_id, **{**args, **changes})
    assert w.events() == before


def test_lineage_to_an_unknown_dataset_is_not_found():
    w = make_world()
    import uuid

    with pytest.raises(NotFound):
        w.app.import_version(w.ds, w.model_id, artifact=b"b", declared_hash=hashlib.sha256(b"b").hexdigest(), estimator="x",
                             metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y", dataset_ids=[uuid.uuid4()])


@pytest.mark.parametrize(("schema", "message"), [([], "non-empty mapping"), ({"a": "decimal"}, "has type")])
def test_malformed_dataset_schemas_are_refused(schema, message):
    w = make_world()
    with pytest.raises(InvalidInput, match=message):
        w.app.register_dataset(w.ds, name="d", source="s", schema=schema, row_count=1, content_hash="ab" * 32)
