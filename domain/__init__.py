"""The governance domain: aggregates, events and rules. No I/O; imports nothing of the store, API or workers."""
