"""The one governance application: every area's service in one eventsourcing Application, so one chain holds
every event. Each command is guarded (domain/services/guard.py): it decides who may act before anything is saved,
records a refusal as exactly one AccessDenied, checks every field it records, and returns what it recorded.
"""

from __future__ import annotations

from typing import Any

from .services.batch import BatchRuns
from .services.compliance import Compliance
from .services.guard import Recorded
from .services.lifecycle import ArtifactStore, Lifecycle
from .services.people import People, Vault
from .services.sources import CredentialStore, Sources
from .services.training import Training

__all__ = ["ArtifactStore", "Governance", "Recorded", "Vault"]


class Governance(People, Lifecycle, Compliance, Training, BatchRuns, Sources):
    """Users and keys, the model lifecycle, compliance, training, batch runs and data connections, in one application."""

    name = "Ledger"

    def __init__(self, *args: Any, artifacts: ArtifactStore | None = None, vault: Vault | None = None,
                 credentials: CredentialStore | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.artifacts = artifacts
        self.vault = vault
        self.credentials = credentials
