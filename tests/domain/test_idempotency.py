"""Retried commands at the domain level: the first answer again, nothing recorded twice, even when two retries race."""

from __future__ import annotations

import pytest

from domain.errors import IdempotencyKeyReused

from .world import make_world


def test_a_retried_dataset_registration_answers_the_first_answer_and_records_nothing():
    w = make_world()
    register = lambda: w.app.register_dataset(w.ds, name="d", source="s", schema={"a": "float"}, row_count=1,
                                              content_hash="ab" * 32, idempotency_key="lost-answer")
    first = register()
    after = w.events()
    again = register()
    assert (again.id, again.position, again.replayed) == (first.id, first.position, True)
    assert w.events() == after


def test_the_same_key_for_another_request_is_refused():
    w = make_world()
    w.app.register_model(w.ds, name="m", idempotency_key="k")
    before = w.events()
    with pytest.raises(IdempotencyKeyReused):
        w.app.register_model(w.ds, name="another", idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        w.app.edit_section(w.ds, w.model_id, "consent", "text", idempotency_key="k")
    assert w.events() == before


def test_two_retries_racing_with_one_key_record_the_command_once():
    """The second retry looked for the key before the first saved it: its save fails on the key, and it answers the first."""
    w = make_world()
    first = w.app.register_model(w.ds, name="raced", idempotency_key="race")
    after = w.events()
    earlier, looks = w.app._earlier, []

    def too_early(request):
        looks.append(request)
        return None if len(looks) == 1 else earlier(request)

    w.app._earlier = too_early
    second = w.app.register_model(w.ds, name="raced", idempotency_key="race")
    assert len(looks) == 2, "the retry did not lose the race"
    assert (second.id, second.position) == (first.id, first.position) and w.events() == after
