"""Routing rules: which model version answers a prediction request, as pure functions over a routing config.

A routing config is JSON, and clients script against its names:

    {"name": str,
     "rules": [{"name": str, "when": CONDITION, "version_id": UUID}
               or {"name": str, "when": CONDITION, "split": [{"version_id": UUID, "weight": number}, ...]}],
     "default_version_id": UUID,
     "shadow_version_ids": [UUID, ...]}                       (optional)
    CONDITION = {"all": [CONDITION, ...]} | {"any": [CONDITION, ...]}
              | {"field": str, "op": "eq|ne|lt|le|gt|ge|in|not_in|is_null", "value": ...}

Rules are tried in order: the first whose condition holds routes the request; when none does, the default version
answers. A split picks one of its versions by weight from a bucket in [0, 100) hashed from the request id and a salt
(the routing config's id): a retried request lands where it did, two configs split independently, and because the
buckets are cumulative in the listed order, raising a canary's weight keeps every request already on it. Shadow
versions are scored and recorded by the caller but never answer; a decision only lists them.

The caller loads the facts of the versions `versions_named` lists; `check_config` checks the config against them and
returns a `RuleSet` whose conditions are compiled once, so that `route` costs a few microseconds. `RuleSet.as_dict`
is the form an event records, each condition in it as `canonical` JSON text (events nest at most 8 levels deep).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import operator
import re
import struct
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .errors import InvalidInput, printable
from .inputs import INT64_MAX, INT64_MIN, MAX_TEXT, check_text

__all__ = ["Branch", "Decision", "RoutingInvalid", "Rule", "RuleSet", "VersionFacts", "bucket_of", "canonical",
           "check_config", "route", "versions_named"]

MAX_RULES = 100
MAX_NAME = 200
MAX_BRANCHES = 10
MAX_SHADOWS = 5
MAX_CHILDREN = 50  # conditions in one all or any
MAX_DEPTH = 16  # nodes on the longest path from a rule's condition to a leaf
MAX_NODES = 256  # nodes in one rule's condition
MAX_VALUES = 1_000  # values in one in or not_in list
MAX_VALUE_TEXT = 1_000  # characters of one string value
#: A rule's condition is recorded as canonical JSON text (events nest at most 8 levels), which the stores hold only
#: up to this many characters.
MAX_CONDITION_TEXT = MAX_TEXT
WEIGHT_TOLERANCE = 1e-9
#: The smallest weight of a split, in percent: one request in ten thousand.
MIN_WEIGHT = 0.01

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null")
_ORDERING = frozenset({"lt", "le", "gt", "ge"})
_LISTS = frozenset({"in", "not_in"})
#: What a comparison on a column of each type reads the feature as; a rule records the kind, not the column type,
#: because the versions it sends to need agree only on the kind (an integer and a float column compare alike).
_KINDS = {"integer": "number", "float": "number", "boolean": "boolean", "string": "text", "category": "text",
          "datetime": "datetime"}
_WANTS = {"number": "a finite number", "boolean": "true or false", "text": "a string",
          "datetime": "an ISO-8601 date and time"}
_Test = Callable[[Mapping[str, Any]], bool]
_CONFIG_KEYS = frozenset({"name", "rules", "default_version_id", "shadow_version_ids"})
_RULE_KEYS = frozenset({"name", "when", "version_id", "split"})
_BRANCH_KEYS = frozenset({"version_id", "weight"})
_LEAF_KEYS = frozenset({"field", "op", "value"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RoutingInvalid(InvalidInput):
    """A routing config the rules refuse. `rule` is the rule's name (or `rules[i]` while it has no valid name), None
    for the config's own keys; `field` is the input field at fault, or else the JSON key at fault."""

    code = "invalid_routing"

    def __init__(self, message: str, *, rule: str | None = None, field: str | None = None) -> None:
        # A NUL is shown escaped, not dropped: "inc\x00ome" must not read as the real input "income".
        self.rule = None if rule is None else printable(rule.replace("\x00", "\\x00"), MAX_NAME)
        self.field = None if field is None else printable(field.replace("\x00", "\\x00"), MAX_NAME)
        where = [f"rule {self.rule!r}"] if self.rule is not None else []
        where += [f"field {self.field!r}"] if self.field is not None else []
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class VersionFacts:
    """What routing needs to know of a version: its input columns (column -> one of domain.datasets.COLUMN_TYPES) and
    whether an active deployment can serve it."""

    input_schema: Mapping[str, str]
    deployed: bool


@dataclass(frozen=True)
class Branch:
    version_id: str
    weight: int | float


@dataclass(frozen=True)
class Rule:
    """One normalised rule: `when` is its condition as canonical JSON text, `fields` the kind (number, boolean, text,
    datetime) of each field it compares; it sends to `version_id`, or else by `split`."""

    name: str
    when: str
    fields: Mapping[str, str]
    version_id: str | None = None
    split: tuple[Branch, ...] = ()

    @property
    def condition(self) -> dict[str, Any]:
        return json.loads(self.when)  # type: ignore[no-any-return]

    @property
    def version_ids(self) -> tuple[str, ...]:
        """The versions this rule can answer with."""
        return tuple(b.version_id for b in self.split) if self.split else (self.version_id,)  # type: ignore[return-value]

    def as_dict(self) -> dict[str, Any]:
        target: dict[str, Any] = ({"split": [{"version_id": b.version_id, "weight": b.weight} for b in self.split]}
                                  if self.split else {"version_id": self.version_id})
        return {"name": self.name, "when": self.when, "fields": dict(self.fields), **target}


@dataclass(frozen=True, slots=True)
class Decision:
    """Which version answers: by `rule` (None: the default), and for a split its `branch` and the request's `bucket`."""

    version_id: str
    rule: str | None
    branch: int | None
    bucket: float | None
    shadow_version_ids: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    """A checked routing config, compiled for `route`. `as_dict` is what an event records and `from_dict` reads it
    back, exactly; neither checks anything (`check_config` did)."""

    rules: tuple[Rule, ...]
    default_version_id: str
    shadow_version_ids: tuple[str, ...] = ()
    _plan: tuple[tuple[_Test, Decision | None, Callable[[str, str], Decision] | None], ...] = dataclasses.field(
        init=False, repr=False, compare=False)
    _default: Decision = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shadows = self.shadow_version_ids
        plan = []
        for rule in self.rules:
            test = _compile(rule.condition, rule.fields)
            if rule.split:
                plan.append((test, None, _splitter(rule, shadows)))
            else:  # a decision is immutable, so every request this rule routes shares one
                plan.append((test, Decision(rule.version_id, rule.name, None, None, shadows), None))  # type: ignore[arg-type]
        object.__setattr__(self, "_plan", tuple(plan))
        object.__setattr__(self, "_default", Decision(self.default_version_id, None, None, None, shadows))

    def as_dict(self) -> dict[str, Any]:
        return {"rules": [rule.as_dict() for rule in self.rules], "default_version_id": self.default_version_id,
                "shadow_version_ids": list(self.shadow_version_ids)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        rules = tuple(Rule(r["name"], r["when"], dict(r["fields"]), r.get("version_id"),
                           tuple(Branch(b["version_id"], b["weight"]) for b in r.get("split", ())))
                      for r in data["rules"])
        return cls(rules, data["default_version_id"], tuple(data["shadow_version_ids"]))


def route(rules: RuleSet, features: Mapping[str, Any], request_id: str, salt: str) -> Decision:
    """The version that answers a request with these features: the first rule whose condition holds, else the default.

    A missing or None feature fails every comparison (not_in and ne included) and is_null holds on it alone; a feature
    of another kind than the field's fails every comparison too (a bool is no number, 1 is no bool, a datetime feature
    is an ISO-8601 string or a datetime). Datetimes compare as instants, one without an offset being UTC. Features are
    checked against the version's schema before routing, elsewhere.
    """
    for test, decision, split in rules._plan:
        if test(features):
            return decision or split(request_id, salt)  # type: ignore[misc]
    return rules._default


def bucket_of(request_id: str, salt: str) -> float:
    """A request's bucket in [0, 100): the first 53 bits of SHA-256(len(salt) as 8 big-endian bytes, salt, request id),
    each UTF-8, as a fraction of 2**53, times 100. Changing this moves live traffic between versions."""
    digest = hashlib.sha256(_salted(salt) + request_id.encode("utf-8", "surrogatepass")).digest()
    return (_FIRST_8_BYTES(digest)[0] >> 11) * _BUCKET_SCALE


@lru_cache(maxsize=1_024)  # a process routes for a handful of configs: their salts are encoded once
def _salted(salt: str) -> bytes:
    encoded = salt.encode("utf-8", "surrogatepass")
    return len(encoded).to_bytes(8, "big") + encoded


_FIRST_8_BYTES = struct.Struct(">Q").unpack_from
_BUCKET_SCALE = 100 / 2**53  # exact; (2**53 - 1) * _BUCKET_SCALE rounds to just below 100


def canonical(condition: Any) -> str:
    """The condition as canonical JSON text: the same condition gives the same text whatever its keys' order."""
    return json.dumps(condition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def versions_named(body: Any) -> set[str]:
    """Every version id (normalised) the config names as a target, a split entry, its default or a shadow, so that the
    caller can load their facts for `check_config`. Best effort on malformed input: never raises, reads no further
    than `check_config` accepts, and leaves out what is not a UUID (`check_config` refuses it)."""
    found: set[Any] = set()
    if not isinstance(body, Mapping):
        return found
    found.add(_normal_id(body.get("default_version_id")))
    shadows = body.get("shadow_version_ids")
    if isinstance(shadows, (list, tuple)):
        found.update(_normal_id(v) for v in shadows[:MAX_SHADOWS])
    rules = body.get("rules")
    for rule in rules[:MAX_RULES] if isinstance(rules, (list, tuple)) else ():
        if isinstance(rule, Mapping):
            found.add(_normal_id(rule.get("version_id")))
            split = rule.get("split")
            for branch in split[:MAX_BRANCHES] if isinstance(split, (list, tuple)) else ():
                if isinstance(branch, Mapping):
                    found.add(_normal_id(branch.get("version_id")))
    found.discard(None)
    return found


def check_config(body: Any, versions: Mapping[Any, VersionFacts]) -> RuleSet:
    """The config, checked against the facts of the versions it names and normalised (version ids in lowercase
    canonical form); raises RoutingInvalid naming the rule and the field at fault."""
    if not isinstance(body, Mapping):
        raise RoutingInvalid("a routing config is an object: name, rules, default_version_id, shadow_version_ids")
    _known_keys(body, _CONFIG_KEYS, None, None)
    _name(body.get("name"), "a routing config's name", None)
    facts = {key: f for key, f in ((_normal_id(str(k)), f) for k, f in versions.items()) if key is not None}
    if "default_version_id" not in body:
        raise RoutingInvalid("a routing config names the version that answers when no rule does",
                             field="default_version_id")
    default = _version_id(body["default_version_id"], None, "default_version_id")
    _served(default, facts, None, "default_version_id")
    rules = body.get("rules")
    if not isinstance(rules, (list, tuple)) or len(rules) > MAX_RULES:
        raise RoutingInvalid(f"rules is a list of at most {MAX_RULES} rules", field="rules")
    names: set[str] = set()
    checked = tuple(_rule(raw, index, names, facts) for index, raw in enumerate(rules))
    answering = {default, *(version_id for r in checked for version_id in r.version_ids)}
    shadows = _shadows(body.get("shadow_version_ids"), answering, facts, facts[default])
    return RuleSet(checked, default, shadows)


def _rule(raw: Any, index: int, names: set[str], facts: Mapping[str, VersionFacts]) -> Rule:
    if not isinstance(raw, Mapping):
        raise RoutingInvalid("a rule is an object: name, when, and version_id or split", rule=f"rules[{index}]")
    name = _name(raw.get("name"), "a rule's name", f"rules[{index}]")
    if name in names:
        raise RoutingInvalid("two rules have this name; a rule's name is unique in its config", rule=name, field="name")
    names.add(name)
    _known_keys(raw, _RULE_KEYS, name, None)
    if "version_id" in raw and "split" in raw:
        raise RoutingInvalid("a rule sends to one version_id or by a split, not both", rule=name, field="split")
    if "version_id" not in raw and "split" not in raw:
        raise RoutingInvalid("a rule sends to a version_id or by a split", rule=name, field="version_id")
    split: tuple[Branch, ...] = ()
    if "version_id" in raw:
        target = _version_id(raw["version_id"], name, "version_id")
        _served(target, facts, name, "version_id")
        version_id, targets = target, [target]
    else:
        split = _split(raw["split"], name, facts)
        version_id, targets = None, [b.version_id for b in split]
    if "when" not in raw:
        raise RoutingInvalid("a rule has a condition, when", rule=name, field="when")
    walk = _Walk(name, [(v, facts[v].input_schema) for v in targets])
    when = canonical(walk.node(raw["when"], 1))
    if len(when) > MAX_CONDITION_TEXT:
        raise RoutingInvalid(f"a condition is at most {MAX_CONDITION_TEXT} characters as JSON", rule=name, field="when")
    return Rule(name, when, walk.kinds, version_id, split)


def _split(raw: Any, rule: str, facts: Mapping[str, VersionFacts]) -> tuple[Branch, ...]:
    if not isinstance(raw, (list, tuple)) or not 2 <= len(raw) <= MAX_BRANCHES:
        raise RoutingInvalid(f"a split is a list of 2 to {MAX_BRANCHES} entries", rule=rule, field="split")
    branches: list[Branch] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise RoutingInvalid("a split entry is an object: version_id and weight", rule=rule, field="split")
        _known_keys(entry, _BRANCH_KEYS, rule, None)
        version_id = _version_id(entry.get("version_id"), rule, "version_id")
        if any(b.version_id == version_id for b in branches):
            raise RoutingInvalid(f"version {version_id} appears twice in the split", rule=rule, field="version_id")
        _served(version_id, facts, rule, "version_id")
        weight = entry.get("weight")
        # the bounds refuse NaN and infinities, and come before any arithmetic on an integer of any size
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not MIN_WEIGHT <= weight <= 100:
            raise RoutingInvalid(f"a weight is a number from {MIN_WEIGHT} to 100 (a smaller share would never be seen, "
                                 "and vanishes from the sum)", rule=rule, field="weight")
        branches.append(Branch(version_id, weight))
    total = math.fsum(b.weight for b in branches)
    if abs(total - 100) > WEIGHT_TOLERANCE:
        raise RoutingInvalid(f"the weights of a split sum to 100, not {total:.12g}", rule=rule, field="weight")
    return tuple(branches)


def _shadows(raw: Any, answering: set[str], facts: Mapping[str, VersionFacts], default: VersionFacts) -> tuple[str, ...]:
    where = "shadow_version_ids"
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_SHADOWS:
        raise RoutingInvalid(f"shadow_version_ids is a list of at most {MAX_SHADOWS} version ids", field=where)
    shadows: list[str] = []
    for item in raw:
        version_id = _version_id(item, None, where)
        if version_id in shadows:
            raise RoutingInvalid(f"version {version_id} is named twice as a shadow", field=where)
        if version_id in answering:
            raise RoutingInvalid(f"version {version_id} answers in this config, so it cannot also be a shadow", field=where)
        # a shadow is sent the very request the default answers, so it must take the same inputs
        if dict(_served(version_id, facts, None, where).input_schema) != dict(default.input_schema):
            raise RoutingInvalid(f"shadow version {version_id} does not take the default version's inputs", field=where)
        shadows.append(version_id)
    return tuple(shadows)


class _Walk:
    """Checks and normalises one rule's condition against the input schemas of every version the rule sends to."""

    def __init__(self, rule: str, schemas: list[tuple[str, Mapping[str, str]]]) -> None:
        self.rule, self.schemas = rule, schemas
        self.kinds: dict[str, str] = {}
        self.nodes = 0
        self.size = 0  # characters the condition's JSON text will hold at least: refuses a huge one early

    def fail(self, message: str, field: str) -> RoutingInvalid:
        return RoutingInvalid(message, rule=self.rule, field=field)

    def node(self, node: Any, depth: int) -> dict[str, Any]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"a condition has at most {MAX_NODES} nodes", "when")
        if not isinstance(node, Mapping):
            raise self.fail("a condition is an object: all, any, or field, op and value", "when")
        for key in ("all", "any"):
            if key in node:
                extra = next((k for k in node if k != key), None)
                if extra is not None:
                    raise self.fail(f"{key} stands alone in its object; {printable(extra, 64)!r} is beside it",
                                    printable(extra, 64))
                children = node[key]
                if not isinstance(children, (list, tuple)) or not 1 <= len(children) <= MAX_CHILDREN:
                    raise self.fail(f"{key} holds a list of 1 to {MAX_CHILDREN} conditions", key)
                if depth >= MAX_DEPTH:  # checked before descending, so no input can exhaust the stack
                    raise self.fail(f"a condition is at most {MAX_DEPTH} levels deep", key)
                parts = [self.node(child, depth + 1) for child in children]
                if key == "all":
                    self.satisfiable(parts)
                return {key: parts}
        return self.leaf(node)

    def leaf(self, node: Mapping[Any, Any]) -> dict[str, Any]:
        field, op = node.get("field"), node.get("op")
        if not isinstance(field, str):
            raise self.fail("a condition names an input field (or is an all or an any)", "field")
        extra = next((k for k in node if k not in _LEAF_KEYS), None)
        if extra is not None:
            raise self.fail(f"{printable(extra, 64)!r} is not a key of a condition (all, any; field, op, value)", field)
        if not isinstance(op, str) or op not in OPS:
            raise self.fail(f"op is one of {', '.join(OPS)}", field)
        if (op == "is_null") == ("value" in node):
            raise self.fail("is_null takes no value" if op == "is_null" else f"{op} compares with a value", field)
        types = []
        for version_id, schema in self.schemas:
            if field not in schema:
                raise self.fail(f"field {field!r} is not an input of version {version_id}", field)
            types.append((version_id, schema[field]))
        if op == "is_null":  # holds on a missing value whatever the field's type
            return {"field": field, "op": op}
        (first, column), kind = types[0], _KINDS.get(types[0][1])
        for version_id, other in types[1:]:
            if _KINDS.get(other) != kind:
                raise self.fail(f"{field!r} is {other} in version {version_id} but {column} in version {first}", field)
        if kind is None or (op in _ORDERING and kind in ("boolean", "text")) or (op in _LISTS and kind == "datetime"):
            raise self.fail(f"{op} does not fit a {column} field", field)
        value = node["value"]
        if op in _LISTS:
            if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_VALUES:
                raise self.fail(f"{op} takes a list of 1 to {MAX_VALUES} values", field)
            value = [self.value(op, item, kind, column, field) for item in value]
        else:
            value = self.value(op, value, kind, column, field)
        self.kinds[field] = kind
        return {"field": field, "op": op, "value": value}

    def value(self, op: str, value: Any, kind: str, column: str, field: str) -> Any:
        self.size += 1
        if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
                raise self.fail("a value is within the 64-bit integer range (the ledger holds no larger)", field)
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(f"{op} on this {column} field takes {_WANTS[kind]}", field)
            return value
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind in ("text", "datetime") and isinstance(value, str):
            try:
                check_text(value, "a value", max_length=MAX_VALUE_TEXT, required=False)
            except InvalidInput as e:
                raise self.fail(e.message, field) from None
            self.size += len(value)
            if self.size > MAX_CONDITION_TEXT:
                raise self.fail(f"a condition is at most {MAX_CONDITION_TEXT} characters as JSON", "when")
            if kind == "text" or _instant(value) is not None:
                return value
        raise self.fail(f"{op} on this {column} field takes {_WANTS[kind]}{' each' if op in _LISTS else ''}", field)

    def satisfiable(self, parts: list[dict[str, Any]]) -> None:
        """Refuse an all that can never hold, as far as a simple reading sees: comparisons on one number or datetime
        field, directly under the all, that leave no value (age < 18 and age > 65; eq 3 and eq 4), or is_null beside a
        comparison on the same field. Deeper contradictions (through an any, across fields) are not looked for."""
        bounds: dict[str, _Interval] = {}
        nulls, compared = set(), set()
        for part in parts:
            if "field" not in part:
                continue
            field, op = part["field"], part["op"]
            if op == "is_null":
                nulls.add(field)
                continue
            compared.add(field)
            kind = self.kinds[field]
            if kind in ("number", "datetime") and (op == "eq" or op in _ORDERING):
                point = part["value"] if kind == "number" else _instant(part["value"])
                interval = bounds.setdefault(field, _Interval())
                interval.narrow(op, point, part["value"])
                if interval.empty():
                    raise self.fail(f"this all can never hold: no value of {field!r} is "
                                    f"{' and '.join(interval.said)}", field)
        clash = sorted(nulls & compared)
        if clash:
            raise self.fail(f"this all can never hold: {clash[0]!r} is null and compared at once", clash[0])


class _Interval:
    _SAY = {"eq": "=", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}

    def __init__(self) -> None:
        self.low: Any = None
        self.high: Any = None
        self.low_open = self.high_open = False
        self.said: list[str] = []

    def narrow(self, op: str, point: Any, value: Any) -> None:
        self.said.append(f"{self._SAY[op]} {value}")
        if op in ("eq", "gt", "ge") and (self.low is None or point > self.low or (point == self.low and op == "gt")):
            self.low, self.low_open = point, op == "gt"
        if op in ("eq", "lt", "le") and (self.high is None or point < self.high or (point == self.high and op == "lt")):
            self.high, self.high_open = point, op == "lt"

    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))


def _name(value: Any, what: str, rule: str | None) -> str:
    try:
        check_text(value, what, max_length=MAX_NAME)
    except InvalidInput as e:
        raise RoutingInvalid(e.message, rule=rule, field="name") from None
    if not value.isprintable():  # control and bidirectional-override characters redraw a terminal or a report
        raise RoutingInvalid(f"{what} may hold only printable characters", rule=rule, field="name")
    return value  # type: ignore[no-any-return]


def _known_keys(body: Mapping[Any, Any], known: frozenset[str], rule: str | None, field: str | None) -> None:
    extra = next((k for k in body if k not in known), None)
    if extra is not None:
        raise RoutingInvalid(f"{printable(extra, 64)!r} is not a key here (only {', '.join(sorted(known))})",
                             rule=rule, field=printable(extra, 64))


def _normal_id(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and _UUID.fullmatch(value) else None


def _version_id(value: Any, rule: str | None, field: str) -> str:
    normal = _normal_id(value)
    if normal is None:
        raise RoutingInvalid(f"{printable(value, 64)!r} is not a version id (a UUID)", rule=rule, field=field)
    return normal


def _served(version_id: str, facts: Mapping[str, VersionFacts], rule: str | None, field: str) -> VersionFacts:
    found = facts.get(version_id)
    if found is None:
        raise RoutingInvalid(f"no version {version_id}", rule=rule, field=field)
    if not found.deployed:
        raise RoutingInvalid(f"version {version_id} is not deployed", rule=rule, field=field)
    return found


# --- evaluation -----------------------------------------------------------------------------------------------------


def _instant(text: str) -> datetime | None:
    """An ISO-8601 date and time as an aware datetime; one without an offset is taken as UTC, so any two compare."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _as_number(x: Any) -> Any:
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _as_boolean(x: Any) -> Any:
    return x if isinstance(x, bool) else None


def _as_text(x: Any) -> Any:
    return x if isinstance(x, str) else None


def _as_instant(x: Any) -> Any:
    if isinstance(x, str):
        return _instant(x)
    if isinstance(x, datetime):
        return x if x.tzinfo is not None else x.replace(tzinfo=timezone.utc)
    return None


_PLAIN = {"number": frozenset({int, float}), "boolean": frozenset({bool}), "text": frozenset({str}),
          "datetime": frozenset()}
_READ = {"number": _as_number, "boolean": _as_boolean, "text": _as_text, "datetime": _as_instant}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "in": lambda x, values: x in values, "not_in": lambda x, values: x not in values}


def _compile(node: Mapping[str, Any], kinds: Mapping[str, str]) -> _Test:
    """A condition as one closure over the features; built once per rule set, so that route only calls."""
    if "all" in node or "any" in node:
        holds = "all" in node
        parts = tuple(_compile(child, kinds) for child in node["all" if holds else "any"])
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            if holds:
                return lambda features: first(features) and second(features)
            return lambda features: first(features) or second(features)

        # loops: all() or any() over a generator costs twice as much
        def every(features: Mapping[str, Any]) -> bool:
            for part in parts:
                if not part(features):
                    return False
            return True

        def some(features: Mapping[str, Any]) -> bool:
            for part in parts:
                if part(features):
                    return True
            return False
        return every if holds else some
    field, op = node["field"], node["op"]
    if op == "is_null":
        return lambda features: features.get(field) is None
    kind, value = kinds[field], node["value"]
    read, compare = _READ[kind], _COMPARE[op]
    if op in _LISTS:
        value = frozenset(value)  # only hashable scalars of the field's kind reach it: read() lets nothing else by
    elif kind == "datetime":
        value = _instant(value)
    plain = _PLAIN[kind]
    # the common case, a feature of the plain type, is compared without a call to read()

    def test(features: Mapping[str, Any]) -> bool:
        x = features.get(field)
        if type(x) in plain:
            return compare(x, value)
        return x is not None and (x := read(x)) is not None and compare(x, value)
    return test


def _splitter(rule: Rule, shadows: tuple[str, ...]) -> Callable[[str, str], Decision]:
    # Branch i takes the buckets from the sum of the weights before it up to that sum plus its own; the last bound is
    # open-ended, so rounding in the sums never leaves a bucket unrouted.
    bounds, total = [], 0.0
    for branch in rule.split[:-1]:
        total += branch.weight
        bounds.append(total)
    bounds.append(math.inf)
    ids, name = tuple(b.version_id for b in rule.split), rule.name

    def decide(request_id: str, salt: str) -> Decision:
        bucket = bucket_of(request_id, salt)
        branch = bisect_right(bounds, bucket)
        return Decision(ids[branch], name, branch, bucket, shadows)
    return decide
