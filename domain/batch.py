"""Batch runs: a version scored on a registered dataset by a worker, with the reports the approval gate relies on.

A manager or the owning data scientist requests a run of a staged or validated version on a dataset whose snapshot is
kept; a worker scores every row and computes predictions, drift against the training data, explanations, fairness
across the protected attributes and performance against a label column, stores each report under its SHA-256, and
records the completion — on the run and, in the same transaction, on the version (which becomes validated). The
thresholds that decide drift and a fairness breach are the model's risk tier's, fixed when the run is requested.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from .errors import InvalidInput
from .jobs import JobLifecycle, JobState
from .timed import TimedAggregate

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
REPORTS = ("predictions", "drift", "explanations", "fairness", "performance")
NUMERIC = {"integer", "float"}
#: Fairness is measured across at most this many groups of a protected attribute (age in years fits): more would be
#: no reading of anything and a summary too large for an event, which fails the run only once every row is scored.
MAX_GROUPS = 200


def check_inputs(*, features: dict[str, str], dataset_schema: dict[str, str], label_column: Any, protected: Any,
                 profile: dict[str, Any] | None = None) -> tuple[str | None, list[str]]:
    """The dataset must hold every input feature with a fitting type (each one that does not is named); the label and
    protected attributes must be columns of it, the protected attributes neither free text nor of more than
    MAX_GROUPS values (by the dataset's profile)."""
    problems = []
    for feature, kind in features.items():
        found = dataset_schema.get(feature)
        if found is None:
            problems.append(f"{feature} is missing")
        elif (kind in NUMERIC) != (found in NUMERIC) and not (kind in NUMERIC and found == "boolean"):
            problems.append(f"{feature} is {found}, the version expects {kind}")
    if problems:
        raise InvalidInput(f"the dataset does not fit the version's input schema: {'; '.join(problems)}")
    if label_column is not None:
        if not isinstance(label_column, str) or label_column not in dataset_schema:
            raise InvalidInput(f"label column {label_column!r} is not a column of the dataset")
        if label_column in features:
            raise InvalidInput(f"label column {label_column!r} is one of the version's input features")
    if protected is None:
        protected = []
    if not isinstance(protected, (list, tuple)) or not all(isinstance(p, str) for p in protected):
        raise InvalidInput("protected_attributes is a list of column names")
    missing = [p for p in protected if p not in dataset_schema]
    if missing:
        raise InvalidInput(f"protected attribute {missing[0]!r} is not a column of the dataset")
    if len(set(protected)) != len(protected):
        raise InvalidInput("protected_attributes names a column twice")
    for column in protected:
        if dataset_schema[column] == "string":
            # Groups are named in the run's summary, in the ledger for ever; free text (names, e-mails, ids) never is.
            raise InvalidInput(f"protected attribute {column!r} is free text, whose values are never quoted into the "
                               "ledger; measure fairness across a category column instead")
        distinct = ((profile or {}).get(column) or {}).get("distinct")
        if isinstance(distinct, int) and distinct > MAX_GROUPS:
            raise InvalidInput(f"protected attribute {column!r} has {distinct} distinct values; fairness is measured "
                               f"across at most {MAX_GROUPS} groups")
    return label_column, list(protected)


def favourable_class(classes: list[Any] | None, outcome: Any) -> Any:
    """The version's class that is the favourable outcome for the person scored (an approved loan, not a default), as
    the version names it; None leaves the positive class."""
    if outcome is None:
        return None
    if not classes:
        raise InvalidInput("a favourable outcome applies to a classification version (one with classes)")
    found = [c for c in classes if str(c).lower() == str(outcome).lower()]
    if not found:
        raise InvalidInput(f"the favourable outcome {str(outcome)[:64]!r} is not one of the version's classes "
                           f"({', '.join(map(str, classes))})")
    return found[0]


def check_reports(report_hashes: Any) -> dict[str, str]:
    if not isinstance(report_hashes, dict) or set(report_hashes) != set(REPORTS):
        raise InvalidInput(f"a batch run records the SHA-256 of each of {', '.join(REPORTS)}")
    for name, digest in report_hashes.items():
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise InvalidInput(f"report {name!r}: its hash must be 64 lowercase hex digits (SHA-256)")
    return dict(report_hashes)


class BatchRun(JobLifecycle, TimedAggregate):
    """One version scored on one dataset, from request to its one outcome."""

    what = "batch run"

    @event("Requested")
    def __init__(self, version_id: UUID, model_id: UUID, dataset_id: UUID, dataset_hash: str, label_column: str | None,
                 protected_attributes: list[str], thresholds: dict[str, float], requested_by: UUID,
                 requested_by_name: str, favourable_outcome: Any = None) -> None:
        self.version_id = version_id
        self.model_id = model_id
        self.dataset_id = dataset_id
        self.dataset_hash = dataset_hash
        self.label_column = label_column
        self.protected_attributes = protected_attributes
        self.thresholds = thresholds
        self.requested_by = requested_by
        self.requested_by_name = requested_by_name
        self.favourable_outcome = favourable_outcome
        self.queued()

    @event("Started")
    def _started(self, worker: str, attempt: int, lease_seconds: float) -> None:
        self.running(worker, attempt)

    def complete(self, *, worker: str, attempt: int, report_hashes: dict[str, str], rows: int, summary: dict[str, Any],
                 drift_detected: bool, fairness_breach: bool) -> None:
        self.check_worker(worker, attempt)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise InvalidInput("a batch run scores at least one row")
        self._completed(worker, attempt, check_reports(report_hashes), self.dataset_hash, rows, summary,
                        bool(drift_detected), bool(fairness_breach))

    @event("Completed")
    def _completed(self, worker: str, attempt: int, report_hashes: dict[str, str], dataset_hash: str, rows: int,
                   summary: dict[str, Any], drift_detected: bool, fairness_breach: bool) -> None:
        self.state = JobState.SUCCEEDED
        self.result = {"batch_run_id": str(self.id), "version_id": str(self.version_id), "rows": rows,
                       "report_hashes": report_hashes, "dataset_hash": dataset_hash, "summary": summary,
                       "drift_detected": drift_detected, "fairness_breach": fairness_breach}

    @event("Failed")
    def _failed(self, worker: str, attempt: int, code: str, reason: str) -> None:
        self.failed(code, reason)

    @event("Cancelled")
    def _cancelled(self, cancelled_by: UUID, cancelled_by_name: str, reason: str) -> None:
        self.cancelled(cancelled_by_name, reason)
