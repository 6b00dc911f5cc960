"""``pack_json`` writes exactly what ``json.dumps`` with a 2-space indent writes, though
it lets the C encoder write every flat container (aiops.canonical explains why the text
is the same): compared here over tricky values, and over anything else a caller may
hand it (the standard encoder then decides, errors included)."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from enum import Enum, IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiops.canonical import _indented, pack_json


def reference(value: Any) -> bytes:
    """The contract, spelled out independently of aiops.canonical."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def fast_text(value: Any) -> str:
    """The fast path alone: it must accept every plain JSON value (no fallback)."""
    return _indented(value, 0)


TRICKY: list[Any] = [
    {},
    [],
    "",
    0,
    -0.0,
    0.0,
    1.0,
    -1.5e-300,
    1e16,
    1.7976931348623157e308,
    5e-324,
    0.1 + 0.2,
    2**53 - 1,
    -(2**53 - 1),
    10**30,  # pack_json itself does not bound integers (the strict reader does)
    True,
    False,
    None,
    "plain",
    'quote " backslash \\ slash / tab \t newline \n return \r',
    "controls \x00\x01\x1f\x7f and \u2028\u2029",
    "non-ASCII: é ß 中文 😀 \U0001f600 \ufeff",
    {"": ""},
    {"b": 1, "a": 2, "B": 3, "_": 4, "ä": 5, "aa": 6, "a\x00": 7},
    {"z": {}, "y": [], "x": [{}], "w": [[]], "v": {"u": {}}},
    [{}, [], {"a": []}, [[], {}], [[[]]]],
    {"nested": {"deeper": {"deepest": [1, 2.5, "three", None, True, {"k": []}]}}},
    [[1, 2], [3, [4, [5, {"six": 6}]]]],
    {"mixed": [1, 1.0, True, "1", None, [], {}]},
    {"a": {"b": {"c": {"d": {"e": {"f": {"g": {}}}}}}}},
    {"\u00e9": 1, "e\u0301": 2},  # NFC and NFD spellings stay two keys, sorted by code point
    {"list": [{"a": 1, "b": [2, {"c": 3}]}, {"a": 4}]},
    [1] * 100,
    {f"k{i:03}": i for i in range(200)},
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_the_fast_path_writes_what_the_standard_encoder_writes(value: Any) -> None:
    assert (fast_text(value) + "\n").encode("utf-8") == reference(value)
    assert pack_json(value) == reference(value)


def test_deep_nesting_is_the_same_on_both_sides_of_the_fast_paths_limit() -> None:
    for depth in (1, 2, 63, 64, 65, 66, 200):
        value: Any = "leaf"
        for level in range(depth):
            value = {"k": value} if level % 2 else [value, 1]
        assert pack_json(value) == reference(value)


# Anything but plain dict/list/str/int/float/bool/None goes to the standard encoder.
class Colour(Enum):
    RED = "red"


class Level(IntEnum):
    ONE = 1


class Text(str):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


UNUSUAL: list[Any] = [
    (1, 2),
    {"t": (1, [2, (3,)])},
    {"a": [1, 2], "t": ("x",)},
    Level.ONE,
    [Level.ONE, 2],
    {"nested": {"level": Level.ONE}},
    Text("sub"),
    {"k": Text("v")},
    Mapping(b=1, a=2),
    {"m": Mapping(z=[], a={"b": 1})},
    OrderedDict([("b", 1), ("a", 2)]),
    {1: "int key", 2: "two"},
    {"outer": {2.5: "float key", 1.0: "x"}},
    {"outer": {True: "bool key", False: "x"}},
    {"outer": {None: "none key"}},
    {"outer": {"a": [1, {3: "x"}]}},
]


@pytest.mark.parametrize("value", UNUSUAL, ids=range(len(UNUSUAL)))
def test_unusual_values_are_written_by_the_standard_encoder(value: Any) -> None:
    assert pack_json(value) == reference(value)


def _refusal(value: Any) -> tuple[type[BaseException], str]:
    with pytest.raises((ValueError, TypeError)) as caught:
        reference(value)
    return caught.type, str(caught.value)


REFUSED: list[Any] = [
    math.nan,
    [1, math.inf],
    {"a": {"b": -math.inf}},
    {"a": [1, {"b": [math.nan]}]},
    {"colour": Colour.RED},
    {"a": [1, object()]},
    {"a": {(1, 2): "tuple key"}},
    {"a": {1: "x", "b": "mixed keys cannot be sorted"}},
    {"outer": {"inner": {math.nan: 1}}},
    {"a": [1, {"b": 10**5000}]},  # more digits than Python turns into text
    [10**5000],
]


@pytest.mark.parametrize("value", REFUSED, ids=range(len(REFUSED)))
def test_refused_values_raise_what_the_standard_encoder_raises(value: Any) -> None:
    kind, message = _refusal(value)
    with pytest.raises(kind) as caught:
        pack_json(value)
    assert str(caught.value) == message


def test_a_cycle_raises_what_the_standard_encoder_raises() -> None:
    cycle: list[Any] = [1]
    cycle.append({"again": cycle})
    kind, message = _refusal(cycle)
    with pytest.raises(kind, match=message):
        pack_json(cycle)


def test_a_lone_surrogate_is_refused_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        reference({"a": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        pack_json({"a": "\ud800"})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=4), children, max_size=5
        )
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_json_value_is_written_as_the_standard_encoder_writes_it(value: Any) -> None:
    assert (fast_text(value) + "\n").encode("utf-8") == reference(value)
