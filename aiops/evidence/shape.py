"""Check a parsed JSON value against a JSON Schema generated from the Pydantic models.

Only the keywords those schemas use are supported; an unknown keyword is an error, so
a model change that needs more cannot pass silently (a test regenerates the schemas).
Pydantic itself is not imported: ``verify-pack`` must start fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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


def shape_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (at most ``MAX_ERRORS``), as ``path: why``."""
    errors: list[str] = []
    _compiled(id(schema), schema)(value, "$", errors)
    return errors[:MAX_ERRORS]


_COMPILED: dict[int, tuple[dict[str, Any], Checker]] = {}


def _compiled(key: int, schema: dict[str, Any]) -> Checker:
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
        self.refs: dict[str, Checker] = {}

    def compile(self, schema: dict[str, Any], where: str) -> Checker:
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError(f"unsupported schema keyword(s) {sorted(unknown)} at {where}")
        if "$ref" in schema:
            return self._ref(schema["$ref"])
        steps: list[Checker] = []
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
        if "items" in schema:
            steps.append(_items(self.compile(schema["items"], f"{where}[]")))
        if kind == "object" or "properties" in schema:
            steps.append(self._object(schema, where))
        return _typed(kind, steps)

    def _ref(self, ref: str) -> Checker:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        name = ref.removeprefix("#/$defs/")
        if name not in self.refs:
            slot: list[Checker] = []
            self.refs[name] = lambda value, path, out: slot[0](value, path, out)
            slot.append(self.compile(self.defs[name], f"$defs.{name}"))
        return self.refs[name]

    @staticmethod
    def _any_of(options: list[Checker]) -> Checker:
        """One option must hold. When exactly one option has the value's type (an
        object where ``X | null`` is allowed), its own errors are the useful ones."""

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

        return check

    def _object(self, schema: dict[str, Any], where: str) -> Checker:
        properties = {
            key: self.compile(sub, f"{where}.{key}")
            for key, sub in schema.get("properties", {}).items()
        }
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        extra_check = self.compile(extra, f"{where}.*") if isinstance(extra, dict) else None

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

        return check


def _typed(kind: str | None, steps: list[Checker]) -> Checker:
    def check(value: Any, path: str, out: list[str]) -> None:
        if len(out) >= MAX_ERRORS:
            return
        if kind is not None and not _type_ok(value, kind):
            out.append(f"{path}: expected {kind}, got {_json_type(value)}")
            return
        for step in steps:
            step(value, path, out)

    return check


def _enum(choices: list[Any]) -> Checker:
    def check(value: Any, path: str, out: list[str]) -> None:
        if not any(_same(value, choice) for choice in choices):
            out.append(f"{path}: {value!r} is not one of {choices}")

    return check


def _pattern(pattern: str) -> Checker:
    regex = re.compile(_end_anchors(pattern))

    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, str) and not regex.search(value):
            out.append(f"{path}: does not match {pattern}")

    return check


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


def _items(item: Checker) -> Checker:
    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, list):
            for index, element in enumerate(value):
                item(element, f"{path}[{index}]", out)

    return check


def _bounds(schema: dict[str, Any]) -> list[Checker]:
    checks: list[Checker] = []
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


def _number_bound(bound: float, fails: Callable[[Any, Any], bool], why: str) -> Checker:
    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and fails(value, bound):
            out.append(f"{path}: {value} {why} {bound}")

    return check


def _size_bound(bound: int, fails: Callable[[Any, Any], bool], why: str) -> Checker:
    def check(value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, str | list) and fails(len(value), bound):
            out.append(f"{path}: {why} {bound}")

    return check


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    raise ValueError(f"unsupported schema type {kind!r}")


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
