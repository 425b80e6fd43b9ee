"""The governance application service: commands that load aggregates, apply rules and save their events."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from .datasets import Dataset
from .errors import NotFound


class Governance(Application[UUID]):
    """All governance aggregates live in one application, so one ledger chains every event."""

    name = "Ledger"

    def register_dataset(self, *, name: str, source: str, schema: dict[str, str], row_count: int,
                         content_hash: str, registered_by: str) -> UUID:
        dataset = Dataset.register(name=name, source=source, schema=schema, row_count=row_count,
                                   content_hash=content_hash, registered_by=registered_by)
        self.save(dataset)
        return dataset.id

    def get_dataset(self, dataset_id: UUID) -> Dataset:
        try:
            return self.repository.get(dataset_id)
        except AggregateNotFoundError:
            raise NotFound(f"no dataset {dataset_id}") from None
