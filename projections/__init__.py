"""Read models built from the notification sequence with tracking: disposable, rebuilt identical from the events."""
