"""The strict reader's rules that verify-pack runs on every file: duplicate keys and
file names with control characters or undecodable bytes."""

from __future__ import annotations

import sys

import pytest

from aiops.evidence.strict import StrictJSONError, bad_name, loads_strict


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a": 1, "\\u0061": 2}', "a"),  # the same key once decoded
        (b'{"b": 1, "a": 2, "c": 3, "a": 4, "b": 5}', "a"),  # the first one repeated
        (b'{"outer": {"x": [{"k": 1, "k": 1}]}}', "k"),
        (b'{"": 1, "": 2}', ""),
    ],
)
def test_a_key_twice_in_one_object_is_refused(text: bytes, key: str) -> None:
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(text)
    assert str(caught.value) == f"duplicate key {key!r}"


def test_the_same_key_in_different_objects_is_fine() -> None:
    doc = loads_strict(b'{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}], "A": 4}')
    assert doc == {"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}], "A": 4}
    assert list(doc) == ["a", "b", "A"]  # the order of the text is kept


def _refused_character(code: int) -> bool:
    """The rule spelled out: C0 controls, DEL, and surrogates (undecodable bytes)."""
    return code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF


def test_every_control_character_and_surrogate_is_refused_in_a_name() -> None:
    for code in range(sys.maxunicode + 1):
        name = f"a{chr(code)}.json"
        if code in (ord("/"), ord("\\"), ord(".")):
            continue  # refused (or not) for other reasons
        expected = "contains a control character or undecodable byte"
        assert (bad_name(name) == expected) == _refused_character(code), hex(code)
