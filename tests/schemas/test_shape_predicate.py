"""The shape check's two compiled forms agree: on every file of real packs of every
kind, and on each of thousands of single changes to them (each value replaced by values
of every JSON type, each key removed, a key added to each object), the predicate holds
exactly when the error-collecting checker finds nothing. verify-pack runs the predicate
alone on a value it accepts, so a disagreement would pass a malformed file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiops.evidence import shape
from aiops.evidence.shape import _TYPE_TESTS, _compiled, _json_type, _type_ok, shape_errors
from aiops.schemas.catalog import schema_for_file
from tests.schemas.packs import Packs

REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**53 - 1,
    1.5,
    -0.5,
    0.0,
    "",
    "x",
    "sha256:" + "a" * 64,
    "a" * 64,
    "2026-01-10T12:00:00+00:00",
    "COMPLETED",
    "a" * 5000,
    [],
    ["x"],
    [1, None],
    {},
    {"k": 1},
]


def _agree(value: Any, schema: dict[str, Any]) -> bool:
    node = _compiled(id(schema), schema)
    errors: list[str] = []
    node.check(value, "$", errors)
    assert node.valid(value) == (not errors), (errors, json.dumps(value)[:300])
    return not errors


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in ``value``, outermost first."""
    if isinstance(value, dict):
        for key in list(value):
            yield value, key
            yield from _slots(value[key])
    elif isinstance(value, list):
        for index in range(len(value)):
            yield value, index
            yield from _slots(value[index])


def _files(packs: Packs) -> list[tuple[str, Path]]:
    found = []
    for pack in (packs.dry, packs.replay, packs.record, packs.signed_reviewed):
        for path in sorted(pack.glob("*.json")):
            if schema_for_file(path.name) is not None:
                found.append((path.name, path))
    return found


def test_predicate_and_checker_agree_on_every_single_change(packs: Packs) -> None:
    outcomes = {True: 0, False: 0}
    files = _files(packs)
    assert {name for name, _ in files} >= {
        "evidence_pack.json",
        "run_manifest.json",
        "proposer_output.json",
        "critic_output.json",
        "transcript.json",
        "review.json",
        "evidence_pack.dsse.json",
    }
    for name, path in files:
        schema = schema_for_file(name)
        assert schema is not None
        doc = json.loads(path.read_bytes())
        assert _agree(doc, schema)  # a real pack's file holds
        for container, key in list(_slots(doc)):
            original = container[key]
            for replacement in REPLACEMENTS:
                container[key] = replacement
                outcomes[_agree(doc, schema)] += 1
            container[key] = original
            if isinstance(container, dict):
                del container[key]
                outcomes[_agree(doc, schema)] += 1
                container[key] = original
            if isinstance(original, dict):
                original["unexpected_key"] = 1
                outcomes[_agree(doc, schema)] += 1
                del original["unexpected_key"]
        for replacement in REPLACEMENTS:
            outcomes[_agree(replacement, schema)] += 1
    # Both answers occur many times: the comparison is not vacuous.
    assert outcomes[True] > 1000 and outcomes[False] > 1000, outcomes


def test_a_refused_value_reports_its_errors() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert shape_errors({"a": 1, "b": None}, schema) == []
    assert shape_errors({"a": True, "b": 1, "c": 0}, schema) == [
        "$.a: expected integer, got boolean",
        "$.b: matches none of the allowed shapes",
        "$: unexpected key 'c'",
    ]


@pytest.mark.parametrize("kind", sorted(_TYPE_TESTS))
def test_each_type_test_is_json_schemas_type(kind: str) -> None:
    """A bool is neither an integer nor a number; an integer is also a number."""
    for value in [*REPLACEMENTS, {"a": []}, [[]], 10**20, -0.0, float("1e300")]:
        json_type = _json_type(value)
        expected = json_type == kind or (kind == "number" and json_type == "integer")
        assert _TYPE_TESTS[kind](value) == expected, (kind, value)
        assert _type_ok(value, kind) == expected, (kind, value)
        plain = shape._PLAIN_TYPES.get(kind)
        if plain is not None:
            assert isinstance(value, plain) == expected, (kind, value)


def test_a_definition_that_refers_to_itself_is_checked_at_every_depth() -> None:
    schema = {
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                    "n": {"type": "integer"},
                },
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/Tree",
    }
    good: Any = {"kids": [{"kids": [{"n": 1}, {}]}]}
    assert _agree(good, schema)
    assert shape_errors({"kids": [{"kids": [{"n": "x"}]}]}, schema) == [
        "$.kids[0].kids[0].n: expected integer, got string"
    ]
    assert shape_errors({"kids": [{"kids": [{"m": 1}]}]}, schema) == [
        "$.kids[0].kids[0]: unexpected key 'm'"
    ]
    for container, key in list(_slots(good)):
        original = container[key]
        for replacement in REPLACEMENTS:
            container[key] = replacement
            _agree(good, schema)
        container[key] = original
