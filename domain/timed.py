"""Aggregates whose event bodies see their own event's time as `modified_on`.

eventsourcing applies an event's body before it sets `modified_on`, so a body that records "when" would read the
previous event's time. Facts like "edited at", "approved at" and "deployed at" must be the event's own time.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class TimedAggregate(Aggregate):
    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            if aggregate is not None:
                aggregate.modified_on = self.timestamp
            return super().mutate(aggregate)
