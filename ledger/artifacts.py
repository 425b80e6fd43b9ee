"""The artifact store: model files addressed by their SHA-256, loaded only when their bytes match the ledger.

Models are stored in skops format and loaded with skops, which refuses unknown types instead of
executing them as pickle would; the few scikit-learn types skops does not trust by default are
allowed by name below, and anything else is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import LedgerError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024

#: scikit-learn internals skops lists as untrusted by default; each is a plain data holder.
TRUSTED_TYPES = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "numpy.dtype",
    # ml (AutoML) pipelines: its own small transformers, the k-best scoring functions, k-means and k-NN internals.
    "ml.preprocess.AsText",
    "ml.preprocess.Clipper",
    "ml.preprocess.EpochDays",
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.cluster._kmeans._kmeans_single_lloyd",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
})


class ArtifactError(LedgerError):
    code = "artifact_invalid"


class LocalArtifactStore:
    """Artifacts as files `<root>/<first two hex digits>/<sha256>`, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        if not _SHA256.match(digest):
            raise ArtifactError(f"{digest!r} is not a SHA-256 hex digest")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def put_file(self, source: Path) -> str:
        """Store a file (a dataset snapshot) by its SHA-256 without reading it into memory."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            digest = hashlib.sha256()
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            path = self._path(digest.hexdigest())
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest.hexdigest()

    @contextmanager
    def verified_copy(self, digest: str, directory: Path | None = None) -> Iterator[Path]:
        """A private copy of the artifact, checked against `digest` as it is copied (so the bytes used are the bytes
        checked), removed afterwards."""
        path = self._path(digest)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="govledger-artifact-")
        try:
            actual = hashlib.sha256()
            try:
                with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        actual.update(chunk)
                        dst.write(chunk)
            except FileNotFoundError:
                raise ArtifactError(f"artifact {digest} is not in the store") from None
            if actual.hexdigest() != digest:
                raise ArtifactError(f"artifact {digest} was altered: its bytes now hash to {actual.hexdigest()}; "
                                    "refusing to use it")
            yield Path(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def get(self, digest: str) -> bytes:
        """The artifact's bytes, only if they still hash to `digest` (the hash the ledger holds)."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactError(f"artifact {digest} is not in the store") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise ArtifactError(f"artifact {digest} was altered: its bytes now hash to {actual}; refusing to load it")
        return data


def dump_model(model: Any) -> bytes:
    import skops.io as sio

    return sio.dumps(model)


def load_model(store: LocalArtifactStore, digest: str) -> Any:
    """Load a model whose bytes match `digest`, refusing any type outside skops' defaults and TRUSTED_TYPES."""
    return _load_trusted(store.get(digest), digest)


def load_model_bytes(data: bytes, digest: str) -> Any:
    """Load a model from bytes read outside the store (a file given to a model server), only if they hash to
    `digest`, the hash the ledger recorded; with the same type policy as load_model."""
    if not _SHA256.match(digest):
        raise ArtifactError(f"{digest!r} is not a SHA-256 hex digest")
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ArtifactError(f"the artifact's bytes hash to {actual}, not {digest} as the ledger recorded; refusing to load it")
    return _load_trusted(data, digest)


def _load_trusted(data: bytes, digest: str) -> Any:
    import skops.io as sio

    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as e:  # skops raises several types for a file that is not a skops archive
        raise ArtifactError(f"artifact {digest} is not a skops model: {type(e).__name__}") from None
    refused = untrusted - TRUSTED_TYPES
    if refused:
        raise ArtifactError(f"artifact {digest} holds types that are not trusted: {', '.join(sorted(refused))}")
    return sio.loads(data, trusted=sorted(untrusted))
