"""Artifacts are content-addressed, loaded only when their bytes match the ledger, and never unpickled."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ledger.artifacts import ArtifactError, LocalArtifactStore, dump_model, load_model


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    return Pipeline([("scale", StandardScaler()), ("model", HistGradientBoostingClassifier(max_iter=20))]).fit(X, y), X


def test_a_stored_model_loads_back_and_predicts_the_same(tmp_path, fitted):
    model, X = fitted
    store = LocalArtifactStore(tmp_path)
    data = dump_model(model)
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest() and store.put(data) == digest
    assert np.allclose(load_model(store, digest).predict_proba(X), model.predict_proba(X))


def test_an_artifact_altered_on_disk_is_refused(tmp_path, fitted):
    store = LocalArtifactStore(tmp_path)
    digest = store.put(dump_model(fitted[0]))
    path = tmp_path / digest[:2] / digest
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="was altered"):
        load_model(store, digest)


def test_a_pickle_is_never_loaded(tmp_path):
    store = LocalArtifactStore(tmp_path)
    digest = store.put(pickle.dumps({"looks": "harmless"}))
    with pytest.raises(ArtifactError, match="not a skops model"):
        load_model(store, digest)


def test_types_outside_the_trusted_set_are_refused(tmp_path):
    import operator

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    store = LocalArtifactStore(tmp_path)
    digest = store.put(sio.dumps(FunctionTransformer(func=operator.neg)))  # an arbitrary callable
    with pytest.raises(ArtifactError, match="not trusted"):
        load_model(store, digest)


@pytest.mark.parametrize("digest", ["", "../../etc/passwd", "ab" * 31, "AB" * 32])
def test_malformed_digests_are_refused(tmp_path, digest):
    with pytest.raises(ArtifactError):
        LocalArtifactStore(tmp_path).get(digest)
