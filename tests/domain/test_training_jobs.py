"""Training jobs in the domain: what a request is checked against, who may act on a job, and why a job ends once."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from domain.models import ModelVersion
from domain.training import JobState

from .world import make_world

TRAINED = {"estimator": "Pipeline(HistGradientBoostingClassifier)", "family": "hist_gradient_boosting",
           "params": {"learning_rate": 0.1}, "metric": "roc_auc", "cv_mean": 0.8, "cv_std": 0.01,
           "leaderboard": [{"family": "hist_gradient_boosting", "params": {}, "cv_mean": 0.8, "cv_std": 0.01,
                            "fit_seconds": 0.4}],
           "metrics": {"cv_roc_auc_mean": 0.8}, "candidates": 7, "seconds": 4.5,
           "input_schema": {"age": "integer", "income": "float"},
           "feature_domains": {"age": {"min": 19, "max": 79}, "income": {"min": 1.0, "max": 9.0}},
           "baseline": {"age": {"quantiles": {"0.5": 40.0}, "n": 1000}}, "classes": [False, True]}


@pytest.mark.parametrize(("change", "message"), [
    ({"task": "forecasting"}, "task is one of"),
    ({"target": "salary"}, "not a column"),
    ({"target": "income"}, "classification needs"),
    ({"task": "regression", "target": "gender"}, "regression needs"),
    ({"task": "clustering"}, "without a target"),
    ({"time_budget_seconds": 0}, "more than 0"),
    ({"time_budget_seconds": 10**9}, "at most"),
    ({"metric": "r2"}, "metric for classification"),
    ({"exclude": ["nope"]}, "not in the dataset"),
    ({"protected_attributes": ["defaulted"]}, "cannot also be"),
    ({"exclude": ["age", "income"], "protected_attributes": ["gender"]}, "no feature columns"),
    ({"preprocessing": {"scaling": "log"}}, "scaling is one of"),
    ({"preprocessing": {"magic": True}}, "unknown preprocessing"),
])
def test_a_training_request_that_cannot_be_trained_is_invalid_and_records_nothing(change, message):
    w = make_world()
    dataset = w.snapshot_dataset()
    before = w.events()
    with pytest.raises(InvalidInput, match=message):
        w.app.request_training(w.ds, **{"dataset_id": dataset, "task": "classification", "target": "defaulted",
                                        "time_budget_seconds": 5, **change})
    assert w.events() == before


def test_a_constant_target_or_an_empty_column_is_refused_from_the_datasets_profile():
    w = make_world()
    profile = {"x": {"type": "float", "missing_share": 1.0, "distinct": 0},
               "y": {"type": "boolean", "missing_share": 0.0, "distinct": 1},
               "z": {"type": "float", "missing_share": 0.0, "distinct": 50}}
    dataset = w.app.register_dataset(w.ds, name="odd", source="upload:odd.csv", schema={c: p["type"] for c, p in profile.items()},
                                     row_count=10, content_hash="aa" * 32, source_kind="upload", profile=profile, snapshot=True).id
    with pytest.raises(InvalidInput, match="single value"):
        w.app.request_training(w.ds, dataset_id=dataset, task="classification", target="y", time_budget_seconds=5)
    with pytest.raises(InvalidInput, match="'x' is empty in every row"):
        w.app.request_training(w.ds, dataset_id=dataset, task="regression", target="z", time_budget_seconds=5)


def test_a_dataset_registered_by_its_hash_alone_cannot_be_trained_on():
    w = make_world()
    with pytest.raises(InvalidInput, match="artifact store"):
        w.app.request_training(w.ds, dataset_id=w.dataset_id, task="classification", target="defaulted", time_budget_seconds=5)


def test_a_request_is_queued_with_the_datasets_hash_and_its_requester():
    w = make_world()
    job = w.app.training_job(w.training_job())
    assert job.state is JobState.QUEUED and job.requested_by == w.ds.user_id and job.dataset_hash == "ef" * 32
    assert job.protected_attributes == ["gender"] and job.model_name == "credit-default"


def test_only_the_requester_may_cancel_a_job_and_a_cancelled_job_cannot_start():
    w = make_world()
    job_id = w.training_job()
    with pytest.raises(Forbidden):
        w.app.cancel_training(w.manager, job_id)
    w.app.cancel_training(w.ds, job_id, reason="wrong target")
    assert w.app.training_job(job_id).state is JobState.CANCELLED
    with pytest.raises(IllegalTransition):
        w.app.start_training(job_id, worker="w1", attempt=1, lease_seconds=30)


def test_a_completed_job_records_one_version_with_its_lineage_and_baseline():
    w = make_world()
    job_id = w.training_job()
    w.app.start_training(job_id, worker="w1", attempt=1, lease_seconds=30)
    recorded = w.app.complete_training(job_id, worker="w1", attempt=1, artifact_hash="12" * 32, trained=TRAINED)
    version = w.app.get_version(w.ds, recorded.id)
    assert isinstance(version, ModelVersion) and version.job_id == job_id and version.trained_by == w.ds.user_id
    assert version.baseline == TRAINED["baseline"] and version.protected_attributes == ["gender"]
    assert version.dataset_ids == [w.app.training_job(job_id).dataset_id]
    job = w.app.training_job(job_id)
    assert job.state is JobState.SUCCEEDED and job.result["version_id"] == str(version.id)


def test_a_worker_that_lost_its_lease_cannot_record_an_outcome_after_the_takeover():
    w = make_world()
    job_id = w.training_job()
    w.app.start_training(job_id, worker="w1", attempt=1, lease_seconds=30)
    w.app.start_training(job_id, worker="w2", attempt=2, lease_seconds=30)  # w1's lease ran out
    with pytest.raises(IllegalTransition, match="attempt 2 of w2"):
        w.app.complete_training(job_id, worker="w1", attempt=1, artifact_hash="12" * 32, trained=TRAINED)
    w.app.complete_training(job_id, worker="w2", attempt=2, artifact_hash="12" * 32, trained=TRAINED)
    with pytest.raises(IllegalTransition):
        w.app.fail_training(job_id, worker="w2", attempt=2, code="x", reason="twice")


def test_two_workers_racing_to_start_the_same_attempt_record_it_once():
    w = make_world()
    job_id = w.training_job()
    first, second = w.app.training_job(job_id), w.app.training_job(job_id)
    first.start(worker="w1", attempt=1, lease_seconds=30)
    second.start(worker="w2", attempt=1, lease_seconds=30)
    w.app._save([first], None)
    with pytest.raises(Conflict):
        w.app._save([second], None)


def test_a_job_without_a_model_makes_a_new_model_owned_by_its_requester():
    w = make_world()
    job_id = w.training_job(model_id=None, model_name="fresh model")
    w.app.start_training(job_id, worker="w1", attempt=1, lease_seconds=30)
    recorded = w.app.complete_training(job_id, worker="w1", attempt=1, artifact_hash="12" * 32, trained=TRAINED)
    model = w.app.get_model(w.ds, w.app.get_version(w.ds, recorded.id).model_id)
    assert model.name == "fresh model" and model.owner == w.ds.user_id and model.version_ids == [recorded.id]


def test_a_data_scientist_reads_only_the_jobs_they_requested():
    w = make_world()
    job_id = w.training_job()
    assert w.app.get_training_job(w.manager, job_id).id == job_id
    with pytest.raises(Forbidden):
        w.app.get_training_job(w.other_data_scientist, job_id)
