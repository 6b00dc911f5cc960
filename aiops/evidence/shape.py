"""Check a parsed JSON value against a JSON Schema generated from the Pydantic models.

Only the keywords those schemas use are supported; an unknown keyword is an error, so
a model change that needs more cannot pass silently (a test regenerates the schemas).
Pydantic itself is not imported: ``verify-pack`` must start fast.

Each schema node compiles to two closures built from the same keywords side by side:
a checker that collects every error with its path, and a predicate that only says
whether the value holds (no path strings built, stops at the first failure). A ledger
of thousands of well-formed packs runs the predicate alone; the checker runs only for
a value the predicate refused. The two must agree on every value (``valid(v)`` exactly
when the checker finds no error): tests/schemas/test_shape_predicate.py compares them
on the shipped schemas over thousands of single changes to real pack files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

ANNOTATIONS = frozenset({"title", "description", "default", "examples"})
KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "anyOf",
        "$ref",
        "$defs",
    }
)
MAX_ERRORS = 20


Checker = Callable[[Any, str, list[str]], None]
Valid = Callable[[Any], bool]


class Node(NamedTuple):
    """A compiled schema node: the checker that reports errors, and its predicate.
    ``types`` is set when the predicate is exactly ``isinstance(value, types)`` (a bare
    ``string``, ``boolean``, ``null``, ``object`` or ``array``, or an ``anyOf`` of
    those), so that an object's or array's predicate tests it inline."""

    check: Checker
    valid: Valid
    types: tuple[type, ...] | None = None


def shape_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (at most ``MAX_ERRORS``), as ``path: why``."""
    node = _compiled(id(schema), schema)
    if node.valid(value):
        return []
    errors: list[str] = []
    node.check(value, "$", errors)
    return errors[:MAX_ERRORS]


_COMPILED: dict[int, tuple[dict[str, Any], Node]] = {}


def _compiled(key: int, schema: dict[str, Any]) -> Node:
    """The schema turned into nested closures, once per schema object (the generated
    schemas are loaded once and cached), so a ledger of thousands of packs does not
    re-read the schema for every value."""
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not schema:
        cached = (schema, _Compiler(schema.get("$defs", {})).compile(schema, "$"))
        _COMPILED[key] = cached
    return cached[1]


class _Compiler:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.refs: dict[str, Node] = {}
        self.pending: dict[str, list[Node]] = {}  # definitions being compiled

    def compile(self, schema: dict[str, Any], where: str) -> Node:
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError(f"unsupported schema keyword(s) {sorted(unknown)} at {where}")
        if "$ref" in schema:
            return self._ref(schema["$ref"])
        steps: list[Node] = []
        if "anyOf" in schema:
            steps.append(self._any_of([self.compile(o, where) for o in schema["anyOf"]]))
        kind = schema.get("type")
        if kind is not None:
            _type_ok(None, kind)  # refuse an unknown type now, not on first use
        if "enum" in schema:
            steps.append(_enum(schema["enum"]))
        if "const" in schema:
            steps.append(_enum([schema["const"]]))
        if "pattern" in schema:
            steps.append(_pattern(schema["pattern"]))
        steps += _bounds(schema)
        # A schema that is only an object or only an array of items (the most common
        # nodes): its predicate tests the type itself, so no closure wraps it for that.
        rules = set(schema) - ANNOTATIONS
        only_array = kind == "array" and rules == {"type", "items"}
        if "items" in schema:
            steps.append(_items(self.compile(schema["items"], f"{where}[]"), only_array))
        only_object = kind == "object" and rules <= _OBJECT_KEYWORDS
        if kind == "object" or "properties" in schema:
            steps.append(self._object(schema, where, only_object))
        node = _typed(kind, steps)
        if only_object or only_array:
            return node._replace(valid=steps[-1].valid)
        return _fused(schema, node)

    def _ref(self, ref: str) -> Node:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        name = ref.removeprefix("#/$defs/")
        if name in self.refs:
            return self.refs[name]
        if name in self.pending:  # a definition that refers to itself: through a slot
            slot = self.pending[name]
            return Node(
                lambda value, path, out: slot[0].check(value, path, out),
                lambda value: slot[0].valid(value),
            )
        self.pending[name] = []
        node = self.compile(self.defs[name], f"$defs.{name}")
        self.pending.pop(name).append(node)
        self.refs[name] = node
        return node

    @staticmethod
    def _any_of(nodes: list[Node]) -> Node:
        """One option must hold. When exactly one option has the value's type (an
        object where ``X | null`` is allowed), its own errors are the useful ones."""
        options = [node.check for node in nodes]
        predicates = tuple(node.valid for node in nodes)
        types = _union(nodes)

        def check(value: Any, path: str, out: list[str]) -> None:
            typed: list[list[str]] = []
            for option in options:
                trial: list[str] = []
                option(value, path, trial)
                if not trial:
                    return
                if not trial[0].startswith(f"{path}: expected "):
                    typed.append(trial)
            if len(typed) == 1:
                out.extend(typed[0])
            else:
                out.append(f"{path}: matches none of the allowed shapes")

        def valid(value: Any) -> bool:
            for option in predicates:
                if option(value):
                    return True
            return False

        if types is not None:
            return Node(check, _instance_of(types), types)
        if len(predicates) == 2:
            first, second = predicates
            return Node(check, lambda value: first(value) or second(value))
        return Node(check, valid)

    def _object(self, schema: dict[str, Any], where: str, must_be_object: bool) -> Node:
        """An object's properties; its predicate passes a value of another type unless
        ``must_be_object`` (then it is ``_typed("object", [this])``'s predicate)."""
        nodes = {
            key: self.compile(sub, f"{where}.{key}")
            for key, sub in schema.get("properties", {}).items()
        }
        properties = {key: node.check for key, node in nodes.items()}
        # Per property: the types to test inline, or else its predicate.
        predicates = {key: node.types or node.valid for key, node in nodes.items()}
        required = list(schema.get("required", []))
        required_keys = frozenset(required)
        known_keys = frozenset(nodes)
        extra = schema.get("additionalProperties", True)
        extra_node = self.compile(extra, f"{where}.*") if isinstance(extra, dict) else None
        extra_check = extra_node.check if extra_node is not None else None
        extra_valid = extra_node.valid if extra_node is not None else None
        closed = extra is False

        def check(value: Any, path: str, out: list[str]) -> None:
            if not isinstance(value, dict):
                return
            for key in required:
                if key not in value:
                    out.append(f"{path}: missing {key!r}")
            for key, item in value.items():
                sub = properties.get(key)
                if sub is not None:
                    sub(item, f"{path}.{key}", out)
                elif extra is False:
                    out.append(f"{path}: unexpected key {key!r}")
                elif extra_check is not None:
                    extra_check(item, f"{path}.{key}", out)

        def valid(value: Any) -> bool:
            if not isinstance(value, dict):
                return not must_be_object
            keys = value.keys()
            if not keys >= required_keys or (closed and not keys <= known_keys):
                return False  # a key missing, or one the schema does not know
            for key, item in value.items():
                sub = predicates.get(key)
                if sub is not None:
                    if not (isinstance(item, sub) if sub.__class__ is tuple else sub(item)):  # type: ignore[operator]
                        return False
                elif extra_valid is not None and not extra_valid(item):
                    return False
            return True

        return Node(check, valid)


def _typed(kind: str | None, nodes: list[Node]) -> Node:
    steps = [node.check for node in nodes]

    def check(value: Any, path: str, out: list[str]) -> None:
        if len(out) >= MAX_ERRORS:
            return
        if kind is not None and not _type_ok(value, kind):
            out.append(f"{path}: expected {kind}, got {_json_type(value)}")
            return
        for step in steps:
            step(value, path, out)

    # The checker stops early only once it holds MAX_ERRORS errors: by then the value
    # has failed, so that stop never changes whether an error is found.
    if kind is None:
        if len(nodes) == 1:
            return nodes[0]._replace(check=check)  # the node alone (an anyOf): its types
        return Node(check, _all_of(tuple(node.valid for node in nodes)))
    plain = _PLAIN_TYPES.get(kind)
    if not nodes:
        return Node(check, _TYPE_TESTS[kind], plain)
    rest = _all_of(tuple(node.valid for node in nodes))
    if plain is not None:
        return Node(check, lambda value: isinstance(value, plain) and rest(value))
    is_kind = _TYPE_TESTS[kind]
    return Node(check, lambda value: is_kind(value) and rest(value))


_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})


def _fused(schema: dict[str, Any], node: Node) -> Node:
    """``node`` with one predicate for three common shapes, a string from an enum of
    strings, a string with a pattern and an integer with a minimum, instead of a type
    test calling the rule's predicate. Each equals that composition: the enum's own
    predicate already requires a str, and a value of the type is always a str (the
    pattern applies) or a number (the minimum applies)."""
    rules = set(schema) - ANNOTATIONS
    choices = schema.get("enum")
    if (
        rules == {"type", "enum"}
        and schema["type"] == "string"
        and choices
        and all(type(choice) is str for choice in choices)
    ):
        return node._replace(valid=_string_enum(choices))  # it tests the type itself
    if rules == {"type", "pattern"} and schema["type"] == "string":
        search = re.compile(_end_anchors(schema["pattern"])).search
        return node._replace(valid=lambda value: isinstance(value, str) and bool(search(value)))
    if rules == {"type", "minimum"} and schema["type"] == "integer":
        bound = schema["minimum"]
        return node._replace(
            valid=lambda value: (
                isinstance(value, int) and not isinstance(value, bool) and not value < bound
            )
        )
    return node


def _all_of(predicates: tuple[Valid, ...]) -> Valid:
    if len(predicates) == 1:
        return predicates[0]

    def valid(value: Any) -> bool:
        for step in predicates:
            if not step(value):
                return False
        return True

    return valid


def _enum(choices: list[Any]) -> Node:
    def check(value: Any, path: str, out: list[str]) -> None:
        if not valid(value):
            out.append(f"{path}: {value!r} is not one of {choices}")

    def valid(value: Any) -> bool:
        return any(_same(value, choice) for choice in choices)

    if choices and all(type(choice) is str for choice in choices):
        return Node(check, _string_enum(choices))
    return Node(check, valid)


def _string_enum(choices: list[str]) -> Valid:
    """``_enum``'s predicate when every choice is a str: ``_same`` is then "a str, and
    equal to one of them", a set lookup."""
    strings = frozenset(choices)
    return lambda value: type(value) is str and value in strings


def _pattern(pattern: str) -> Node:
    regex = re.compile(_end_anchors(pattern))
    search = regex.search

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, str) and not regex.search(value):
            out.append(f"{path}: does not match {pattern}")

    def valid(value: Any) -> bool:
        return not isinstance(value, str) or search(value) is not None

    return Node(check, valid)


def _end_anchors(pattern: str) -> str:
    """``pattern`` with each ``$`` anchor as ``\\Z``: in JSON Schema (and Pydantic) ``$``
    ends the text, while Python's ``$`` also matches before a final newline."""
    out: list[str] = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
    return "".join(out)


def _items(node: Node, must_be_array: bool) -> Node:
    """Each item of an array; the predicate passes a value of another type unless
    ``must_be_array`` (then it is ``_typed("array", [this])``'s predicate)."""
    item, item_valid, item_types = node

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, list):
            for index, element in enumerate(value):
                item(element, f"{path}[{index}]", out)

    def valid(value: Any) -> bool:
        if not isinstance(value, list):
            return not must_be_array
        for element in value:
            if not item_valid(element):
                return False
        return True

    def valid_types(value: Any) -> bool:
        if not isinstance(value, list):
            return not must_be_array
        for element in value:
            if not isinstance(element, item_types):  # type: ignore[arg-type]
                return False
        return True

    return Node(check, valid if item_types is None else valid_types)


def _bounds(schema: dict[str, Any]) -> list[Node]:
    checks: list[Node] = []
    for keyword, fails, why in (
        ("minimum", lambda v, b: v < b, "is below"),
        ("maximum", lambda v, b: v > b, "is above"),
        ("exclusiveMinimum", lambda v, b: v <= b, "must be above"),
        ("exclusiveMaximum", lambda v, b: v >= b, "must be below"),
    ):
        if keyword in schema:
            checks.append(_number_bound(schema[keyword], fails, why))
    for keyword, fails, why in (
        ("minLength", lambda n, b: n < b, "shorter than"),
        ("maxLength", lambda n, b: n > b, "longer than"),
        ("minItems", lambda n, b: n < b, "fewer items than"),
        ("maxItems", lambda n, b: n > b, "more items than"),
    ):
        if keyword in schema:
            checks.append(_size_bound(schema[keyword], fails, why))
    return checks


def _number_bound(bound: float, fails: Callable[[Any, Any], bool], why: str) -> Node:
    def check(value: Any, path: str, out: list[str]) -> None:
        if not valid(value):
            out.append(f"{path}: {value} {why} {bound}")

    def valid(value: Any) -> bool:
        return not (
            isinstance(value, int | float) and not isinstance(value, bool) and fails(value, bound)
        )

    return Node(check, valid)


def _size_bound(bound: int, fails: Callable[[Any, Any], bool], why: str) -> Node:
    def check(value: Any, path: str, out: list[str]) -> None:
        if not valid(value):
            out.append(f"{path}: {why} {bound}")

    def valid(value: Any) -> bool:
        return not (isinstance(value, str | list) and fails(len(value), bound))

    return Node(check, valid)


# The type test of each JSON Schema type (a bool is an int to Python, not to JSON).
_TYPE_TESTS: dict[str, Valid] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _type_ok(value: Any, kind: str) -> bool:
    test = _TYPE_TESTS.get(kind)
    if test is None:
        raise ValueError(f"unsupported schema type {kind!r}")
    return test(value)


# The kinds whose test is exactly ``isinstance`` of these types (not integer or number:
# a bool is an int to Python but neither to JSON Schema).
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _union(nodes: list[Node]) -> tuple[type, ...] | None:
    """The types of an ``anyOf`` whose every option is a plain ``isinstance`` test."""
    types: list[type] = []
    for node in nodes:
        if node.types is None:
            return None
        types += node.types
    return tuple(types)


def _instance_of(types: tuple[type, ...]) -> Valid:
    return lambda value: isinstance(value, types)


def _same(value: Any, expected: Any) -> bool:
    return type(value) is type(expected) and value == expected


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
