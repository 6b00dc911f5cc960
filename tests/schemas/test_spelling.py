"""Schemas derived from the models are spelt one way whatever Pydantic release made them:
they go into requests (so into prompt hashes) and into the files verify-pack reads."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from aiops.schemas.catalog import SCHEMAS, model_schema
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.outputs import OUTPUT_MODELS, _strict, strict_json_schema
from aiops.schemas.spelling import one_spelling


def _older_spelling(node: Any) -> Any:
    """The same schema as Pydantic releases before 2.10 wrote it: ``enum`` beside every
    ``const``, and integral bounds as floats."""
    if isinstance(node, dict):
        out = {key: _older_spelling(value) for key, value in node.items()}
        if "const" in out:
            out["enum"] = [out["const"]]
        if "enum" in out and len(out["enum"]) == 1 and "const" not in out:
            out["const"] = out["enum"][0]
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(out.get(bound), int) and not isinstance(out[bound], bool):
                out[bound] = float(out[bound])
        return out
    if isinstance(node, list):
        return [_older_spelling(item) for item in node]
    return node


def test_a_constant_is_one_enum() -> None:
    assert one_spelling({"const": "A"}) == {"enum": ["A"]}
    assert one_spelling({"const": "A", "enum": ["A"], "type": "string"}) == {
        "enum": ["A"],
        "type": "string",
    }


def test_integral_numbers_are_integers_and_others_are_kept() -> None:
    spelt = one_spelling({"minimum": 0.0, "maximum": 1.0, "multipleOf": 0.5, "x": [2.0]})
    assert spelt == {"minimum": 0, "maximum": 1, "multipleOf": 0.5, "x": [2]}
    assert type(spelt["minimum"]) is int and type(spelt["multipleOf"]) is float
    assert one_spelling({"default": True}) == {"default": True}  # a bool is not a number


def test_an_open_mapping_is_spelt_without_additional_properties_true() -> None:
    """Pydantic 2.7 leaves ``additionalProperties: true`` out of ``dict[str, Any]``;
    later releases write it. ``false`` (a closed object) is meaning, and stays."""
    assert one_spelling({"type": "object", "additionalProperties": True}) == {"type": "object"}
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    assert one_spelling(closed) == closed


def test_input_is_not_changed() -> None:
    schema = {"properties": {"kind": {"const": "A"}}}
    one_spelling(schema)
    assert schema == {"properties": {"kind": {"const": "A"}}}


MODELS: list[type[BaseModel]] = [*OUTPUT_MODELS.values(), CriticVerdict]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_request_schema_is_the_same_from_an_older_spelling(model: type[BaseModel]) -> None:
    older = _older_spelling(one_spelling(model.model_json_schema()))
    assert _strict(one_spelling(older)) == strict_json_schema(model)


def test_the_older_spelling_differs_for_the_output_models() -> None:
    # Otherwise the test above would prove nothing.
    differing = []
    for model in MODELS:
        current = one_spelling(model.model_json_schema())
        if _older_spelling(current) != current:
            differing.append(model)
    assert len(differing) >= len(OUTPUT_MODELS)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_published_schemas_have_no_const_and_no_integral_floats(name: str) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "const" not in node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        else:
            assert not (isinstance(node, float) and node.is_integer())

    walk(model_schema(name))
