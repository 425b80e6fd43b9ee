"""A prediction's input is checked against the routed version's schema before anything else: every field at fault is
named, and what the stores cannot hold never gets further."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.predictions import FeaturesInvalid, check_features, check_request_id, check_subject_id, prediction_id_for

SCHEMA = {"age": "integer", "income": "float", "employed": "boolean", "region": "category"}
GOOD = {"age": 41, "income": 52_000.5, "employed": True, "region": "north"}


def test_features_that_fit_are_taken_in_schema_order_and_missing_values_are_left_to_imputation():
    assert list(check_features({**GOOD, "income": None}, SCHEMA)) == list(SCHEMA)


def test_every_field_at_fault_is_named_at_once():
    bad = {"age": "41", "income": float("nan"), "employed": 1, "zip": "90210"}
    with pytest.raises(FeaturesInvalid) as refused:
        check_features(bad, SCHEMA)
    message = refused.value.message
    for named in ("'zip' is not an input", "'age' must be a number", "'income' must be a finite number",
                  "'employed' must be true or false", "'region' is missing"):
        assert named in message
    assert refused.value.code == "invalid_features" and len(refused.value.problems) == 5


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_an_integer_the_stores_cannot_hold_is_refused(value):
    with pytest.raises(FeaturesInvalid, match="64-bit"):
        check_features({**GOOD, "age": value}, SCHEMA)


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x" * 1_001])
def test_text_the_stores_cannot_hold_is_refused(value):
    with pytest.raises(FeaturesInvalid):
        check_features({**GOOD, "region": value}, SCHEMA)


@pytest.mark.parametrize("value", ["", "with space", "x" * 201, "ünïcode", 7, None])
def test_a_malformed_request_or_subject_id_is_refused(value):
    with pytest.raises(InvalidInput):
        check_request_id(value)
    if value is not None:
        with pytest.raises(InvalidInput):
            check_subject_id(value)


def test_a_shadow_prediction_has_an_id_of_its_own_derived_from_the_request():
    from uuid import uuid4

    config = uuid4()
    primary, shadow = prediction_id_for(config, "r-1"), prediction_id_for(config, "r-1", "v2")
    assert primary == prediction_id_for(config, "r-1") and shadow != primary
    assert prediction_id_for(uuid4(), "r-1") != primary, "request ids are scoped by routing config"
