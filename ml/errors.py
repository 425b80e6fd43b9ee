"""The one error base of `ml`: every refusal carries a stable code and a message naming what is wrong."""

from __future__ import annotations


class MLError(Exception):
    code = "ml_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDataset(MLError):
    """The data cannot be read or typed: a bad CSV, a bad column name, too many columns."""

    code = "invalid_dataset"


class InvalidTrainingRequest(MLError):
    """The training request does not fit the data: checked before any model is fitted."""

    code = "invalid_training_request"


class InvalidBatchRequest(MLError):
    """The batch does not fit the model version: missing or mistyped features, an unknown label, no rows."""

    code = "invalid_batch_request"


class TrainingCancelled(MLError):
    """The caller asked the work to stop (should_stop() returned True): a training search or a batch run.
    One cancellation error for both, so a worker handles them alike."""

    code = "training_cancelled"


class TrainingFailed(MLError):
    """No candidate could be fitted (every trial raised or scored NaN): a fault, not a bad request."""

    code = "training_failed"
