"""Trained pipelines round-trip through the artifact store's skops trust check (ml itself imports nothing of ours)."""

from __future__ import annotations

import numpy as np

from ledger.artifacts import LocalArtifactStore, dump_model, load_model


def round_trip(tmp_path, pipeline):
    store = LocalArtifactStore(tmp_path / "artifacts")
    return load_model(store, store.put(dump_model(pipeline)))


def test_a_classification_pipeline_loads_through_the_trust_check(tmp_path, credit_run, credit):
    result, _ = credit_run
    loaded = round_trip(tmp_path, result.pipeline)
    X = credit[result.features]
    assert np.array_equal(loaded.predict_proba(X), result.pipeline.predict_proba(X))


def test_regression_and_clustering_pipelines_load_through_the_trust_check(tmp_path, regression_run, blobs_run):
    for result, df in (regression_run, blobs_run):
        loaded = round_trip(tmp_path, result.pipeline)
        X = df[result.features]
        assert np.array_equal(loaded.predict(X), result.pipeline.predict(X))
