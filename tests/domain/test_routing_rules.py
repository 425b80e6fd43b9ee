"""Routing rules: conditions agree with a reference evaluator written straight from the rules, a request goes to the
first rule that holds, splits converge to their weights and keep their requests, and every malformed config is
refused naming the rule and the field at fault."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.inputs import check_value
from domain.routing_rules import (
    MAX_DEPTH, MAX_NODES, MAX_RULES, Rule, RoutingInvalid, RuleSet, VersionFacts, bucket_of, canonical, check_config,
    Branch, route, versions_named)

SCHEMA = {"age": "integer", "income": "float", "member": "boolean", "city": "category", "name": "string",
          "seen": "datetime"}
KIND = {"integer": "number", "float": "number", "boolean": "boolean", "string": "text", "category": "text",
        "datetime": "datetime"}
A, B, C, D, E = (str(uuid.UUID(int=n)) for n in range(1, 6))  # deployed, taking SCHEMA
IDLE = str(uuid.UUID(int=6))  # taking SCHEMA, not deployed
OTHER = str(uuid.UUID(int=7))  # deployed, without income
RETYPED = str(uuid.UUID(int=8))  # deployed, age as a string
MISSING = str(uuid.UUID(int=9))  # no such version
FACTS = {**{v: VersionFacts(SCHEMA, deployed=True) for v in (A, B, C, D, E)},
         IDLE: VersionFacts(SCHEMA, deployed=False),
         OTHER: VersionFacts({k: t for k, t in SCHEMA.items() if k != "income"}, deployed=True),
         RETYPED: VersionFacts({**SCHEMA, "age": "string"}, deployed=True)}
SALT = str(uuid.UUID(int=99))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DROP = object()


def leaf(field, op, value=DROP):
    return {"field": field, "op": op} if value is DROP else {"field": field, "op": op, "value": value}


def config(**top):
    """A valid config (rule 0 'young applicants' to B, rule 1 'canary' splitting C/D, default A, shadow E), with the
    given top-level keys replaced (DROP removes one)."""
    body = {"name": "credit", "rules": [
        {"name": "young applicants", "when": leaf("age", "lt", 25), "version_id": B},
        {"name": "canary", "when": leaf("income", "ge", 0),
         "split": [{"version_id": C, "weight": 10}, {"version_id": D, "weight": 90}]}],
        "default_version_id": A, "shadow_version_ids": [E]}
    body.update(top)
    return {k: v for k, v in body.items() if v is not DROP}


def rule(index, **keys):
    body = config()
    body["rules"][index].update(keys)
    body["rules"][index] = {k: v for k, v in body["rules"][index].items() if v is not DROP}
    return body


def when(condition):
    return rule(0, when=condition)


def split(*entries):
    return rule(1, split=[{"version_id": v, "weight": w} for v, w in entries])


def nested(depth):
    """A condition `depth` nodes deep: alls around one leaf."""
    condition = leaf("age", "gt", 1)
    for _ in range(depth - 1):
        condition = {"all": [condition]}
    return condition


# --- the reference: the rules as written, evaluated the obvious way -------------------------------------------------

def instant(x):
    if isinstance(x, str):
        try:
            x = datetime.fromisoformat(x)
        except ValueError:
            return None
    if not isinstance(x, datetime):
        return None
    return x if x.tzinfo is not None else x.replace(tzinfo=timezone.utc)


def holds(condition, features):
    if "all" in condition:
        return all(holds(c, features) for c in condition["all"])
    if "any" in condition:
        return any(holds(c, features) for c in condition["any"])
    x, op = features.get(condition["field"]), condition["op"]
    if op == "is_null":
        return x is None
    kind, value = KIND[SCHEMA[condition["field"]]], condition["value"]
    if kind == "number" and (isinstance(x, bool) or not isinstance(x, (int, float))):
        return False
    if kind == "boolean" and not isinstance(x, bool):
        return False
    if kind == "text" and not isinstance(x, str):
        return False
    if kind == "datetime":
        x, value = instant(x), instant(value)
        if x is None:
            return False
    return {"eq": lambda: x == value, "ne": lambda: x != value, "lt": lambda: x < value, "le": lambda: x <= value,
            "gt": lambda: x > value, "ge": lambda: x >= value, "in": lambda: x in value,
            "not_in": lambda: x not in value}[op]()


def reference_route(body, features, request_id, salt):
    """(version, rule name) from the first rule that holds, the split's version chosen from the cumulative weights."""
    for r in body["rules"]:
        if holds(r["when"], features):
            if "version_id" in r:
                return r["version_id"], r["name"]
            bucket, upto = bucket_of(request_id, salt), 0.0
            for entry in r["split"]:
                upto += entry["weight"]
                if bucket < upto:
                    return entry["version_id"], r["name"]
            return r["split"][-1]["version_id"], r["name"]
    return body["default_version_id"], None


def kinds_of(condition):
    if "all" in condition or "any" in condition:
        return {k: v for c in condition.get("all", condition.get("any")) for k, v in kinds_of(c).items()}
    return {} if condition["op"] == "is_null" else {condition["field"]: KIND[SCHEMA[condition["field"]]]}


def rule_set(body):
    """The body checked; or, when check_config finds one of its conditions contradictory, built as is (to be
    evaluated all the same: the reference says how it routes)."""
    try:
        return check_config(body, FACTS)
    except RoutingInvalid as e:
        assert "can never hold" in e.message and e.field in SCHEMA, e.message
    return RuleSet(tuple(Rule(r["name"], canonical(r["when"]), kinds_of(r["when"]), r.get("version_id"),
                              tuple(Branch(b["version_id"], b["weight"]) for b in r.get("split", ())))
                         for r in body["rules"]), body["default_version_id"], tuple(body.get("shadow_version_ids", ())))


# --- strategies -----------------------------------------------------------------------------------------------------

NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0, 1e300]))
TEXTS = st.sampled_from(["a", "b", "", "é", "A"])
MOMENTS = st.sampled_from(["2024-01-01", "2024-01-01T12:00:00", "2024-01-01T12:00:00+02:00", "2024-01-01T10:00:00Z",
                           "2023-12-31T23:59:59.999999", "2024-01-01T00:00:00-01:00"])
VALUES = {"number": NUMBERS, "boolean": st.booleans(), "text": TEXTS, "datetime": MOMENTS}
OPS = {"number": ["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null"],
       "boolean": ["eq", "ne", "in", "not_in", "is_null"], "text": ["eq", "ne", "in", "not_in", "is_null"],
       "datetime": ["eq", "ne", "lt", "le", "gt", "ge", "is_null"]}


@st.composite
def leaves(draw):
    field = draw(st.sampled_from(sorted(SCHEMA)))
    kind = KIND[SCHEMA[field]]
    op = draw(st.sampled_from(OPS[kind]))
    if op == "is_null":
        return leaf(field, op)
    if op in ("in", "not_in"):
        return leaf(field, op, draw(st.lists(VALUES[kind], min_size=1, max_size=4)))
    return leaf(field, op, draw(VALUES[kind]))


conditions = st.recursive(leaves(), lambda inner: st.builds(
    lambda key, children: {key: children}, st.sampled_from(["all", "any"]), st.lists(inner, min_size=1, max_size=4)),
    max_leaves=12)
feature_values = st.one_of(
    st.none(), NUMBERS, st.booleans(), TEXTS, MOMENTS, st.just(float("nan")), st.just("not a date"),
    st.just(datetime(2024, 1, 1, 12, tzinfo=timezone.utc)), st.just(datetime(2024, 1, 1, 11, 59)))
features = st.dictionaries(st.sampled_from(sorted(SCHEMA)), feature_values)
targets = st.one_of(st.sampled_from([B, C, D]).map(lambda v: {"version_id": v}), st.sampled_from([
    {"split": [{"version_id": C, "weight": 50}, {"version_id": D, "weight": 50}]},
    {"split": [{"version_id": B, "weight": 0.1}, {"version_id": C, "weight": 33.3}, {"version_id": D, "weight": 66.6}]}]))
bodies = st.lists(st.tuples(conditions, targets), max_size=5).map(lambda rules: {
    "name": "generated", "default_version_id": A, "shadow_version_ids": [E],
    "rules": [{"name": f"rule {i}", "when": c, **t} for i, (c, t) in enumerate(rules)]})
request_ids = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates included


# --- evaluation -----------------------------------------------------------------------------------------------------

@FUZZ
@given(conditions, features)
def test_any_condition_holds_exactly_when_the_reference_evaluator_says_it_does(condition, values):
    rules = rule_set({"name": "one", "rules": [{"name": "r", "when": condition, "version_id": B}],
                      "default_version_id": A})
    assert (route(rules, values, "request", SALT).version_id == B) == holds(condition, values)


@FUZZ
@given(bodies, features, request_ids)
def test_a_request_goes_to_the_first_rule_that_holds_or_else_to_the_default(body, values, request_id):
    decision = route(rule_set(body), values, request_id, SALT)
    assert (decision.version_id, decision.rule) == reference_route(body, values, request_id, SALT)
    assert decision.shadow_version_ids == (E,)
    answering = next((r for r in body["rules"] if r["name"] == decision.rule), {})
    if "split" in answering:
        assert decision.bucket == bucket_of(request_id, SALT)
        assert answering["split"][decision.branch]["version_id"] == decision.version_id
    else:
        assert decision.branch is None and decision.bucket is None


def test_a_missing_or_null_feature_fails_every_comparison_and_only_is_null_holds_on_it():
    for op, value in [("eq", 1), ("ne", 1), ("lt", 1), ("ge", 1), ("in", [1]), ("not_in", [1])]:
        rules = check_config(when(leaf("age", op, value)), FACTS)
        assert route(rules, {}, "r", SALT).rule is None
        assert route(rules, {"age": None}, "r", SALT).rule is None
    rules = check_config(when(leaf("age", "is_null")), FACTS)
    assert route(rules, {"age": None}, "r", SALT).rule == route(rules, {}, "r", SALT).rule == "young applicants"
    assert route(rules, {"age": 0}, "r", SALT).rule is None


def test_a_feature_of_another_kind_than_the_field_fails_every_comparison():
    numbers = check_config(when(leaf("age", "ne", 3)), FACTS)
    assert route(numbers, {"age": 4}, "r", SALT).rule == "young applicants"
    for other in (True, "4", [4]):  # a bool is no number here
        assert route(numbers, {"age": other}, "r", SALT).rule is None
    booleans = check_config(when(leaf("member", "eq", True)), FACTS)
    assert route(booleans, {"member": 1}, "r", SALT).rule is None  # nor is 1 a bool
    assert route(booleans, {"member": True}, "r", SALT).rule == "young applicants"


@pytest.fixture
def away_from_utc(monkeypatch):
    """The machine's timezone is New York's, so that reading local time for UTC shows."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_datetimes_compare_as_instants_whatever_their_offset_and_one_without_is_utc(away_from_utc):
    rules = check_config(when(leaf("seen", "eq", "2024-01-01T12:00:00+02:00")), FACTS)
    for same in ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00", datetime(2024, 1, 1, 10, tzinfo=timezone.utc)):
        assert route(rules, {"seen": same}, "r", SALT).rule == "young applicants", same
    assert route(rules, {"seen": "2024-01-01T12:00:00"}, "r", SALT).rule is None
    assert route(rules, {"seen": "yesterday"}, "r", SALT).rule is None


# --- splits ---------------------------------------------------------------------------------------------------------

def ids(n, seed=7):
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]


def split_rules(weights, versions=(B, C, D, E, OTHER)):
    body = {"name": "split", "default_version_id": A, "rules": [{"name": "s", "when": leaf("age", "is_null"), "split": [
        {"version_id": v, "weight": w} for v, w in zip(versions, weights)]}]}
    return check_config(body, FACTS)


@pytest.mark.parametrize("weights", [[50, 50], [10, 90], [5, 15, 80], [33.3, 33.3, 33.4], [1, 2, 3, 4, 90]])
def test_a_split_sends_each_version_its_weights_share_of_requests(weights):
    rules, requests = split_rules(weights), ids(20_000)
    branches = [route(rules, {}, request_id, SALT).branch for request_id in requests]
    for branch, weight in enumerate(weights):
        assert abs(100 * branches.count(branch) / len(requests) - weight) <= 1.5, (branch, weight)


def test_a_retried_request_lands_on_the_same_version_even_after_the_rules_are_reloaded():
    rules = split_rules([50, 50])
    reloaded = RuleSet.from_dict(json.loads(json.dumps(rules.as_dict())))
    for request_id in ids(1_000):
        first = route(rules, {}, request_id, SALT)
        assert route(rules, {}, request_id, SALT) == first == route(reloaded, {}, request_id, SALT)


def test_two_configs_split_the_same_requests_independently():
    rules, requests = split_rules([50, 50]), ids(20_000)
    pairs = [(route(rules, {}, r, SALT).branch, route(rules, {}, r, "another config").branch) for r in requests]
    for cell in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        assert abs(100 * pairs.count(cell) / len(pairs) - 25) <= 1.5, cell


@pytest.mark.parametrize("before, after, canary", [([5, 95], [10, 90], 0), ([95, 5], [90, 10], 1),
                                                    ([45, 50, 5], [45, 40, 15], 2), ([5, 95], [50, 50], 0)])
def test_raising_a_canarys_weight_keeps_every_request_already_on_it(before, after, canary):
    old, new, requests = split_rules(before), split_rules(after), ids(20_000)
    on_canary = [r for r in requests if route(old, {}, r, SALT).branch == canary]
    assert on_canary and all(route(new, {}, r, SALT).branch == canary for r in on_canary)


@given(request_ids, st.text(st.characters(exclude_categories=()), max_size=40))
def test_a_bucket_is_sha256_of_the_salts_length_the_salt_and_the_request_id_read_as_a_fraction_of_100(request_id, salt):
    encoded = salt.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(len(encoded).to_bytes(8, "big") + encoded + request_id.encode("utf-8", "surrogatepass"))
    expected = (int.from_bytes(digest.digest()[:8], "big") >> 11) / 2**53 * 100  # one rounding, as in route
    assert bucket_of(request_id, salt) == expected
    assert 0 <= bucket_of(request_id, salt) < 100


def test_buckets_never_reach_100_and_are_pinned_so_that_live_traffic_does_not_move():
    assert (2**53 - 1) * (100 / 2**53) < 100  # the largest bucket
    assert bucket_of("request-1", "config-1") == 73.63557518868696


# --- the stored form ------------------------------------------------------------------------------------------------

@FUZZ
@given(bodies)
def test_a_rule_set_survives_its_stored_form_exactly_and_the_event_store_can_hold_it(body):
    rules = rule_set(body)
    stored = json.loads(json.dumps(rules.as_dict()))
    assert RuleSet.from_dict(stored) == rules and RuleSet.from_dict(stored).as_dict() == rules.as_dict()
    check_value(stored, "routing")


def test_the_largest_config_is_something_the_event_store_can_hold():
    deepest = {"any": [nested(MAX_DEPTH - 1), leaf("city", "in", [f"c{n}" for n in range(1_000)])]}
    body = config(rules=[{"name": f"rule {i}", "when": deepest, "version_id": B} for i in range(MAX_RULES)])
    check_value(check_config(body, FACTS).as_dict(), "routing")


@given(conditions, st.randoms())
def test_canonical_text_does_not_depend_on_the_order_of_keys(condition, rng):
    def shuffled(node):
        if isinstance(node, dict):
            items = [(k, shuffled(v)) for k, v in node.items()]
            rng.shuffle(items)
            return dict(items)
        return [shuffled(n) for n in node] if isinstance(node, list) else node
    assert canonical(shuffled(condition)) == canonical(condition)
    assert json.loads(canonical(condition)) == condition


def test_a_checked_config_is_normalised_and_keeps_its_rules_in_order():
    body = config(default_version_id=A.upper())
    body["rules"][0]["version_id"] = B.upper()
    rules = check_config(body, FACTS)
    assert [r.name for r in rules.rules] == ["young applicants", "canary"]
    assert rules.default_version_id == A and rules.rules[0].version_id == B and rules.shadow_version_ids == (E,)
    assert rules.rules[0].when == '{"field":"age","op":"lt","value":25}' and rules.rules[0].fields == {"age": "number"}
    assert route(check_config(config(rules=[]), FACTS), {"age": 1}, "r", SALT).version_id == A


# --- the versions a config names ------------------------------------------------------------------------------------

def test_versions_named_lists_every_target_split_entry_default_and_shadow_normalised():
    assert versions_named(config(default_version_id=A.upper())) == {A, B, C, D, E}
    many = [str(uuid.UUID(int=100 + n)) for n in range(15)]
    body = config(shadow_version_ids=many[10:], rules=[{"name": "ten", "when": leaf("age", "is_null"), "split": [
        {"version_id": v, "weight": 10} for v in many[:10]]}])
    assert versions_named(body) == {A, *many}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=()), max_size=8)
    | st.sampled_from([A, B, IDLE, MISSING, OTHER]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@st.composite
def mutated_configs(draw):
    """A valid config with one value anywhere in it replaced by arbitrary JSON, or its key removed."""
    body = draw(st.sampled_from([config(), when({"all": [leaf("age", "gt", 1), leaf("city", "in", ["a"])]}),
                                 split((C, 20), (D, 30), (B, 50))]))
    body = copy.deepcopy(body)
    paths = []

    def walk(node, path):
        for key, child in (node.items() if isinstance(node, dict) else enumerate(node)):
            paths.append(path + [key])
            if isinstance(child, (dict, list)):
                walk(child, path + [key])
    walk(body, [])
    *parent_path, key = draw(st.sampled_from(paths))
    parent = body
    for step in parent_path:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = draw(json_values)
    return body


@FUZZ
@given(st.one_of(json_values, mutated_configs()))
def test_no_config_makes_the_checks_raise_anything_but_routing_invalid_and_they_need_no_facts_beyond_versions_named(
        body):
    named = versions_named(body)
    outcomes = []
    for facts in (FACTS, {v: f for v, f in FACTS.items() if v in named}):
        try:
            outcomes.append(check_config(body, facts))
        except RoutingInvalid as e:
            outcomes.append((e.message, e.rule, e.field))
    assert outcomes[0] == outcomes[1]


# --- refusals -------------------------------------------------------------------------------------------------------

def test_a_refusal_is_invalid_input_naming_the_rule_and_the_field():
    with pytest.raises(RoutingInvalid) as refused:
        check_config(when(leaf("name", "lt", "m")), FACTS)
    assert isinstance(refused.value, InvalidInput) and refused.value.code == "invalid_routing"
    assert (refused.value.rule, refused.value.field) == ("young applicants", "name")
    assert refused.value.message == "rule 'young applicants', field 'name': lt does not fit a string field"


YA, CANARY, SH, DV = "young applicants", "canary", "shadow_version_ids", "default_version_id"
REFUSED = [
    # the config's shape
    ("not an object", [], None, None, "is an object"),
    ("an unknown key", config(shadows=[]), None, "shadows", "not a key"),
    ("no name", config(name=DROP), None, "name", "must be text"),
    ("an empty name", config(name=" "), None, "name", "may not be empty"),
    ("a name of 201 characters", config(name="n" * 201), None, "name", "longer than 200"),
    ("a name with a control character", config(name="a\x1bb"), None, "name", "printable"),
    ("rules not a list", config(rules={}), None, "rules", "a list"),
    ("101 rules", config(rules=[{"name": f"r{i}", "when": leaf("age", "gt", 1), "version_id": B}
                                for i in range(MAX_RULES + 1)]), None, "rules", "at most 100"),
    ("a rule that is not an object", config(rules=["r"]), "rules[0]", None, "a rule is an object"),
    ("a rule without a name", rule(0, name=DROP), "rules[0]", "name", "must be text"),
    ("a rule name of 201 characters", rule(0, name="n" * 201), "rules[0]", "name", "longer than 200"),
    ("duplicate rule names", rule(1, name=YA), YA, "name", "two rules"),
    ("an unknown rule key", rule(0, weight=3), YA, "weight", "not a key"),
    ("both version_id and split", rule(1, version_id=B), CANARY, "split", "not both"),
    ("neither version_id nor split", rule(0, version_id=DROP), YA, "version_id", "a version_id or"),
    ("a version id that is not a UUID", rule(0, version_id="v1"), YA, "version_id", "not a version id"),
    ("a braced UUID", rule(0, version_id="{" + B + "}"), YA, "version_id", "not a version id"),
    ("an unknown version", rule(0, version_id=MISSING), YA, "version_id", f"no version {MISSING}"),
    ("a version not deployed", rule(0, version_id=IDLE), YA, "version_id", f"version {IDLE} is not deployed"),
    ("no condition", rule(0, when=DROP), YA, "when", "a condition"),
    # splits
    ("a split of one", split((C, 100)), CANARY, "split", "2 to 10"),
    ("a split of eleven", split(*[(str(uuid.UUID(int=100 + i)), 100 / 11) for i in range(11)]), CANARY, "split",
     "2 to 10"),
    ("a split that is not a list", rule(1, split={"version_id": C}), CANARY, "split", "2 to 10"),
    ("a split entry that is not an object", rule(1, split=[C, D]), CANARY, "split", "version_id and weight"),
    ("a version twice in a split", split((C, 50), (C, 50)), CANARY, "version_id", "twice"),
    ("an unknown version in a split", split((C, 50), (MISSING, 50)), CANARY, "version_id", "no version"),
    ("a version not deployed in a split", split((C, 50), (IDLE, 50)), CANARY, "version_id", "not deployed"),
    ("weights summing to 99", split((C, 9), (D, 90)), CANARY, "weight", "sum to 100, not 99"),
    ("weights summing to 100.000001", split((C, 10.000001), (D, 90)), CANARY, "weight", "sum to 100"),
    ("a bool as weight", split((C, True), (D, 99)), CANARY, "weight", "a number"),
    ("a zero weight", split((C, 0), (D, 100)), CANARY, "weight", "from 0.01 to 100"),
    ("a negative weight", split((C, -10), (D, 110)), CANARY, "weight", "from 0.01 to 100"),
    ("a weight too small to be seen", split((C, 0.001), (D, 99.999)), CANARY, "weight", "from 0.01 to 100"),
    ("a NaN weight", split((C, float("nan")), (D, 90)), CANARY, "weight", "a number"),
    ("an infinite weight", split((C, float("inf")), (D, 90)), CANARY, "weight", "a number"),
    ("a weight as text", split((C, "10"), (D, 90)), CANARY, "weight", "a number"),
    ("a huge integer weight", split((C, 10**400), (D, 90)), CANARY, "weight", "from 0.01 to 100"),
    ("an unknown key in a split entry", rule(1, split=[{"version_id": C, "weight": 10, "share": 1},
                                                       {"version_id": D, "weight": 90}]), CANARY, "share", "not a key"),
    # the default and the shadows
    ("no default", config(default_version_id=DROP), None, DV, "names the version"),
    ("a default that is not a UUID", config(default_version_id=3), None, DV, "not a version id"),
    ("an unknown default", config(default_version_id=MISSING), None, DV, "no version"),
    ("a default not deployed", config(default_version_id=IDLE), None, DV, "not deployed"),
    ("shadows not a list", config(shadow_version_ids=E), None, SH, "a list"),
    ("six shadows", config(shadow_version_ids=[str(uuid.UUID(int=200 + i)) for i in range(6)]), None, SH, "at most 5"),
    ("a shadow twice", config(shadow_version_ids=[E, E]), None, SH, "twice"),
    ("a shadow that is the default", config(shadow_version_ids=[A]), None, SH, "answers in this config"),
    ("a shadow that a rule answers with", config(shadow_version_ids=[B]), None, SH, "answers in this config"),
    ("a shadow that a split answers with", config(shadow_version_ids=[D.upper()]), None, SH, "answers in this config"),
    ("an unknown shadow", config(shadow_version_ids=[MISSING]), None, SH, "no version"),
    ("a shadow not deployed", config(shadow_version_ids=[IDLE]), None, SH, "not deployed"),
    ("a shadow taking other inputs", config(shadow_version_ids=[OTHER]), None, SH, "default version's inputs"),
    # fields and types
    ("an unknown field", when(leaf("height", "gt", 1)), YA, "height", f"field 'height' is not an input of version {B}"),
    ("a field one version of a split lacks", rule(1, split=[{"version_id": C, "weight": 10},
                                                            {"version_id": OTHER, "weight": 90}]),
     CANARY, "income", f"not an input of version {OTHER}"),
    ("a field the versions of a split type differently", rule(1, when=leaf("age", "eq", 3), split=[
        {"version_id": C, "weight": 10}, {"version_id": RETYPED, "weight": 90}]), CANARY, "age", "string in version"),
    ("lt on a category field", when(leaf("city", "lt", "m")), YA, "city", "lt does not fit a category field"),
    ("ge on a boolean field", when(leaf("member", "ge", True)), YA, "member", "ge does not fit a boolean field"),
    ("in on a datetime field", when(leaf("seen", "in", ["2024-01-01"])), YA, "seen", "in does not fit a datetime"),
    ("text compared with an integer field", when(leaf("age", "eq", "3")), YA, "age", "a finite number"),
    ("a bool compared with an integer field", when(leaf("age", "eq", True)), YA, "age", "a finite number"),
    ("1 compared with a boolean field", when(leaf("member", "eq", 1)), YA, "member", "true or false"),
    ("a number compared with a category field", when(leaf("city", "eq", 3)), YA, "city", "a string"),
    ("a list compared with eq", when(leaf("city", "eq", ["a"])), YA, "city", "a string"),
    ("a number in a list of strings", when(leaf("city", "in", ["a", 3])), YA, "city", "a string each"),
    ("a NaN value", when(leaf("income", "gt", float("nan"))), YA, "income", "a finite number"),
    ("an infinite value", when(leaf("income", "lt", float("inf"))), YA, "income", "a finite number"),
    ("an integer beyond int64", when(leaf("age", "lt", 2**63)), YA, "age", "64-bit"),
    ("an integer beyond int64 in a list", when(leaf("age", "in", [1, -(2**63) - 1])), YA, "age", "64-bit"),
    ("a datetime that is not ISO-8601", when(leaf("seen", "lt", "next tuesday")), YA, "seen", "ISO-8601"),
    ("a NUL in a value", when(leaf("city", "eq", "a\x00b")), YA, "city", "NUL"),
    ("a lone surrogate in a value", when(leaf("city", "eq", "\ud800")), YA, "city", "lone surrogate"),
    ("a value of 1001 characters", when(leaf("name", "eq", "n" * 1001)), YA, "name", "longer than 1000"),
    ("an empty in list", when(leaf("city", "in", [])), YA, "city", "1 to 1000"),
    ("an in list of 1001", when(leaf("age", "in", list(range(1001)))), YA, "age", "1 to 1000"),
    ("an in list that is not a list", when(leaf("city", "not_in", "a")), YA, "city", "1 to 1000"),
    # the condition's shape
    ("is_null with a value", when(leaf("age", "is_null", None)), YA, "age", "is_null takes no value"),
    ("eq without a value", when(leaf("age", "eq")), YA, "age", "eq compares with a value"),
    ("no op", when({"field": "age", "value": 3}), YA, "age", "op is one of"),
    ("an unknown op", when(leaf("age", "between", [1, 2])), YA, "age", "op is one of"),
    ("no field", when({"op": "eq", "value": 3}), YA, "field", "names an input field"),
    ("a field that is not text", when(leaf(3, "eq", 3)), YA, "field", "names an input field"),
    ("an unknown key in a leaf", when({**leaf("age", "eq", 3), "values": [3]}), YA, "age", "not a key"),
    ("a condition that is not an object", when("age < 25"), YA, "when", "is an object"),
    ("an empty all", when({"all": []}), YA, "all", "1 to 50"),
    ("an empty any", when({"any": []}), YA, "any", "1 to 50"),
    ("an all that is not a list", when({"all": leaf("age", "gt", 1)}), YA, "all", "1 to 50"),
    ("an any of 51", when({"any": [leaf("age", "eq", n) for n in range(51)]}), YA, "any", "1 to 50"),
    ("an all beside a leaf's keys", when({"all": [leaf("age", "gt", 1)], "field": "age"}), YA, "field", "stands alone"),
    ("too deep", when(nested(MAX_DEPTH + 1)), YA, "all", f"at most {MAX_DEPTH} levels"),
    ("too many nodes", when({"any": [{"all": [leaf("age", "gt", n)] * 6} for n in range(40)]}), YA, "when",
     f"at most {MAX_NODES} nodes"),
    ("a condition too long to record", when({"any": [leaf("name", "in", [f"{n:0>40}" for n in range(600)])]}), YA,
     "when", "characters as JSON"),
    # contradictions
    ("age < 18 and age > 65", when({"all": [leaf("age", "lt", 18), leaf("age", "gt", 65)]}), YA, "age",
     "no value of 'age' is < 18 and > 65"),
    ("age = 3 and age = 4", when({"all": [leaf("age", "eq", 3), leaf("age", "eq", 4)]}), YA, "age", "never hold"),
    ("age > 5 and age ≤ 5", when({"all": [leaf("age", "gt", 5), leaf("city", "eq", "a"), leaf("age", "le", 5.0)]}),
     YA, "age", "never hold"),
    ("a contradiction under an any", when({"any": [leaf("city", "eq", "a"), {"all": [
        leaf("income", "ge", 2.5), leaf("income", "lt", 2.5)]}]}), YA, "income", "never hold"),
    ("seen before 2024 and after 2025", when({"all": [leaf("seen", "lt", "2024-01-01"),
                                                      leaf("seen", "gt", "2025-01-01T00:00:00Z")]}), YA, "seen",
     "never hold"),
    ("the same instant at two offsets, open", when({"all": [leaf("seen", "lt", "2024-01-01T12:00:00+02:00"),
                                                            leaf("seen", "ge", "2024-01-01T10:00:00Z")]}), YA, "seen",
     "never hold"),
    ("null and compared", when({"all": [leaf("age", "is_null"), leaf("age", "ge", 0)]}), YA, "age", "null"),
]


@pytest.mark.parametrize("body, rule_name, field, message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_malformed_config_is_refused_naming_the_rule_and_the_field_at_fault(body, rule_name, field, message):
    with pytest.raises(RoutingInvalid) as refused:
        check_config(body, FACTS)
    assert (refused.value.rule, refused.value.field) == (rule_name, field), refused.value.message
    assert message in refused.value.message


@pytest.mark.parametrize("condition", [
    nested(MAX_DEPTH),
    {"any": [{"all": [leaf("age", "gt", n)] * 4} for n in range(49)] + [{"all": [leaf("age", "gt", 1)] * 9}]},
    {"all": [leaf("age", "ge", 18), leaf("age", "le", 18)]},  # one value left: 18
    {"all": [leaf("age", "gt", 1), leaf("age", "ne", 1), leaf("seen", "le", "2024-01-01"), leaf("seen", "ge",
                                                                                             "2023-12-31T23:59Z")]},
    {"any": [leaf("age", "is_null"), leaf("age", "lt", 25)]},
], ids=["16 levels deep", "256 nodes", "a single point", "open and closed bounds that leave values", "is_null or lt"])
def test_conditions_at_the_limits_or_close_to_a_contradiction_are_accepted(condition):
    check_config(when(condition), FACTS)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["eq", "lt", "le", "gt", "ge"]), st.sampled_from([1, 2, 2.5, 3])),
                min_size=1, max_size=4))
def test_an_all_of_comparisons_on_one_number_field_is_refused_exactly_when_no_number_meets_them(comparisons):
    values = sorted({v for _, v in comparisons})
    candidates = values + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[0] - 1, values[-1] + 1]
    condition = {"all": [leaf("income", op, v) for op, v in comparisons]}
    possible = any(holds(condition, {"income": x}) for x in candidates)
    try:
        check_config(when(condition), FACTS)
        refused = False
    except RoutingInvalid as e:
        assert (e.rule, e.field) == (YA, "income") and "can never hold" in e.message, e.message
        refused = True
    assert refused is not possible


def test_shadows_are_listed_on_every_decision_and_never_answer():
    rules = check_config(config(), FACTS)
    for values in ({"age": 20}, {"age": 30, "income": 5.0}, {}):
        decision = route(rules, values, "r", SALT)
        assert decision.shadow_version_ids == (E,) and decision.version_id != E


def test_a_datetime_one_microsecond_before_the_bound_is_before_it():
    rules = check_config(when(leaf("seen", "lt", "2024-01-01T00:00:00Z")), FACTS)
    just_before = datetime(2024, 1, 1, tzinfo=timezone.utc) - timedelta(microseconds=1)
    assert route(rules, {"seen": just_before.isoformat()}, "r", SALT).rule == YA
    assert route(rules, {"seen": "2024-01-01T00:00:00+00:00"}, "r", SALT).rule is None
