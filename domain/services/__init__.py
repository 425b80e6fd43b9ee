"""The application services, one per area, each command guarded (`guard.py`); `domain.application` hosts them all."""
