"""Where cross-validation fits run: in this process, or on a Dask cluster through joblib's dask backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def compute_backend(scheduler: str | None) -> Iterator[None]:
    """With None, nothing changes (joblib runs in-process). With a scheduler address, joblib work inside the
    block (cross_validate with n_jobs=-1, as the trainer does with TrainingSpec(n_jobs=-1)) runs on that
    Dask cluster; the client is closed on the way out.
    """
    if scheduler is None:
        yield
        return
    import joblib
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client, joblib.parallel_backend("dask", client=client):
        yield
