"""`govledger batch-run`: a version scored on a dataset by a batch worker, as a manager or the owning data scientist."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from .bootstrap import Ledger
from .cli_training import (
    NO_WORKER,
    KeyFile,
    acting_user,
    err,
    follow_job,
    out,
    worker_running,
)


def batch_run(
    version: Annotated[UUID, typer.Argument(metavar="VERSION", help="the version's id (staged or validated)")],
    dataset: Annotated[UUID, typer.Argument(metavar="DATASET", help="the dataset's id (ingested: its snapshot is kept)")],
    label: Annotated[str | None, typer.Option(help="the column of true outcomes (performance, fairness rates)")] = None,
    protected: Annotated[list[str] | None, typer.Option(help="a protected attribute to examine (repeatable)")] = None,
    favourable: Annotated[str | None, typer.Option(help="the class that is good for the person scored (e.g. false "
                                                        "for a default model): fairness rates are of that outcome")] = None,
    follow: Annotated[bool, typer.Option(help="show the run's progress until it ends, then its findings")] = False,
    api_key_file: KeyFile = None,
) -> None:
    """Request a batch run: predictions, drift, SHAP explanations, fairness and performance, computed by a batch
    worker (`govledger workers`), the evidence an approval names."""
    ledger = Ledger()
    gov = ledger.application()
    actor = acting_user(gov, api_key_file)
    recorded = gov.request_batch_run(actor, version, dataset_id=dataset, label_column=label,
                                     protected_attributes=protected or [], favourable_outcome=favourable)
    out.print(f"batch run {recorded.id} queued (position {recorded.position})", markup=False, highlight=False)
    if follow:
        follow_job(ledger, gov, actor, recorded.id)
    elif not worker_running(ledger, "batch worker"):
        err.print(NO_WORKER.format(worker="batch worker", only="batch"), markup=False, highlight=False)
