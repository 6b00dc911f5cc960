"""Check a parsed JSON value against a JSON Schema generated from the Pydantic models.

Only the keywords those schemas use are supported; an unknown keyword is an error, so
a model change that needs more cannot pass silently (a test regenerates the schemas).
Pydantic itself is not imported: ``verify-pack`` must start fast.
"""

from __future__ import annotations

import re
from functools import cache
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


def shape_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (at most ``MAX_ERRORS``), as ``path: why``."""
    errors: list[str] = []
    _check(value, schema, schema.get("$defs", {}), "$", errors)
    return errors[:MAX_ERRORS]


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


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check(
    value: Any, schema: dict[str, Any], defs: dict[str, Any], path: str, out: list[str]
) -> None:
    if len(out) >= MAX_ERRORS:
        return
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise ValueError(f"unsupported schema keyword(s) {sorted(unknown)} at {path}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        _check(value, defs[ref.removeprefix("#/$defs/")], defs, path, out)
        return
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            trial: list[str] = []
            _check(value, option, defs, path, trial)
            if not trial:
                break
        else:
            out.append(f"{path}: matches none of the allowed shapes")
            return
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        out.append(f"{path}: expected {kind}, got {_json_type(value)}")
        return
    if "enum" in schema and not any(_same(value, choice) for choice in schema["enum"]):
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and not _same(value, schema["const"]):
        out.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, str):
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            out.append(f"{path}: does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get(
            "maxLength", len(value)
        ):
            out.append(f"{path}: length {len(value)} out of bounds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, out)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get(
            "maxItems", len(value)
        ):
            out.append(f"{path}: {len(value)} items out of bounds")
        if "items" in schema:
            for index, item in enumerate(value):
                _check(item, schema["items"], defs, f"{path}[{index}]", out)
    if isinstance(value, dict):
        _check_object(value, schema, defs, path, out)


def _check_number(value: float, schema: dict[str, Any], path: str, out: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: {value} is below {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: {value} is above {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        out.append(f"{path}: {value} must be above {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        out.append(f"{path}: {value} must be below {schema['exclusiveMaximum']}")


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], defs: dict[str, Any], path: str, out: list[str]
) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            out.append(f"{path}: missing {key!r}")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], defs, f"{path}.{key}", out)
        elif extra is False:
            out.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, dict):
            _check(item, extra, defs, f"{path}.{key}", out)


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
