"""Canonical bytes and hashes. Changing anything here changes every hash aiops writes.

Two encodings, both contracts:

* ``canonical_json`` — sorted keys, separators ``(",", ":")``, UTF-8, no NaN. It is
  the input of ``prompt_hash`` (the request body sent) and of the run id.
* ``pack_json`` — sorted keys, 2-space indent, trailing newline, UTF-8, no NaN. It is
  how every JSON file of an evidence pack and every fixture is written.

Text that comes from outside and goes into evidence (notes, a reviewer's name, an
input's or fixture's file name) must be UTF-8: ``require_utf8`` refuses it otherwise.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from aiops.errors import UsageError


def require_utf8(text: str, what: str) -> str:
    """``text``, when evidence can record it as given. Bytes that were not UTF-8 where
    they came from (a command line typed in a Latin-1 terminal, an environment variable,
    a file name) reach Python as surrogate escapes, which UTF-8 cannot encode: refused
    with one line naming ``what``, before anything is written or sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"not UTF-8 text in {what}: {text} (a terminal, locale or file name in "
            "another encoding?); evidence records it exactly, in UTF-8, so it is refused"
        ) from None
    return text


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def pack_json(value: Any) -> bytes:
    try:
        text = _indented(value, 0)
    except Exception:  # anything unusual: the standard encoder decides, errors included
        text = _pack_text(value)
    return (text + "\n").encode("utf-8")


def _pack_text(value: Any) -> str:
    """The definition of ``pack_json``'s text: what ``_indented`` must equal."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)


# --- pack_json without the pure-Python indenting encoder ---------------------------------
#
# ``json.dumps`` with an indent runs in pure Python (the C encoder only writes compact
# text), and a ledger's verification encodes every index and review again to check its
# canonical form. ``_indented`` writes the same text, with the C encoder doing the work
# wherever it can. Why the text is the same, for values made only of dict, list, str,
# int, float, bool and None (exactly those types; anything else raises ``_Unusual`` and
# the standard encoder runs instead, as it does when any error is raised):
#
# * the keys of a dict written member by member here must be str; a flat dict's keys
#   are the C encoder's to write, and it turns an int, float, bool or None key into
#   text and sorts the items exactly as the standard encoder does (any other key is
#   refused, and the standard encoder then decides);
# * a scalar is written by the same function in both encoders: ``encode_basestring``
#   for a str (the one ``ensure_ascii=False`` selects), ``int.__repr__``, ``float.__repr__``
#   (a float that is not finite is left to the standard encoder, which refuses it),
#   ``true``/``false``/``null``; an empty dict or list is ``{}`` or ``[]`` in both forms;
# * a non-empty container whose members are all scalars or empty containers (a "flat"
#   one) at depth ``level`` is, indented, its opening bracket, a line break and the
#   indent of ``level + 1``, its members joined by ``,`` + line break + that indent (a
#   member of a dict being its key, ``": "`` and its value, in sorted key order), a line
#   break, the indent of ``level`` and the closing bracket. The C encoder with
#   ``key_separator=": "`` and ``item_separator=",\n" + indent(level + 1)`` writes the
#   brackets around exactly those members, joined by exactly that separator, in the same
#   order (both sort the items of the dict); only the two line breaks next to the
#   brackets are added here;
# * any other container is written member by member here, in that same layout.
#
# The checks that the text is exactly the standard encoder's are in
# tests/test_canonical.py (differential, over tricky values: non-ASCII text, escapes,
# control characters, floats, nested empty containers, key order, deep nesting).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAX_LEVEL = 64  # deeper (or a cycle): the standard encoder
_BREAKS = tuple("\n" + "  " * level for level in range(_MAX_LEVEL + 1))
_INF = float("inf")


class _Unusual(Exception):
    """A value ``_indented`` leaves to the standard encoder."""


def _refuse(value: Any) -> Any:
    raise _Unusual


# One C encoder per depth, as ``json.JSONEncoder.iterencode`` makes it (positional):
# no cycle markers (a flat container holds none), ``default`` refuses, the string
# encoder of ``ensure_ascii=False``, no indent, the key and item separators of a flat
# container at that depth, ``sort_keys=True``, ``skipkeys=False``, ``allow_nan=False``.
_FLAT_ENCODERS = tuple(
    c_make_encoder(
        None,
        _refuse,
        encode_basestring,
        None,
        ": ",
        "," + _BREAKS[level + 1],
        True,
        False,
        False,
    )
    if c_make_encoder is not None
    else None
    for level in range(_MAX_LEVEL)
)


def _indented(value: Any, level: int) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is dict or kind is list:
        if not value:
            return "{}" if kind is dict else "[]"
        if level >= _MAX_LEVEL:
            raise _Unusual
        return _container(value, level)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value or value in (_INF, -_INF):
            raise _Unusual
        return float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    raise _Unusual


def _container(value: dict[Any, Any] | list[Any], level: int) -> str:
    """A non-empty dict or list at depth ``level``, indented."""
    is_dict = type(value) is dict
    members = value.values() if is_dict else value  # type: ignore[union-attr]
    flat = True
    for member in members:
        kind = type(member)
        if kind is dict or kind is list:
            if member:
                flat = False
                break
        elif kind not in _SCALARS:
            raise _Unusual
    inner, outer = _BREAKS[level + 1], _BREAKS[level]
    if flat:
        encoder = _FLAT_ENCODERS[level]
        if encoder is None:
            raise _Unusual
        text = "".join(encoder(value, 0))
        return text[0] + inner + text[1:-1] + outer + text[-1]
    parts: list[str] = []
    if is_dict:
        for key, member in sorted(value.items()):  # type: ignore[union-attr]
            if type(key) is not str:
                raise _Unusual
            text = (
                encode_basestring(member) if type(member) is str else _indented(member, level + 1)
            )
            parts.append(encode_basestring(key) + ": " + text)
        return "{" + inner + ("," + inner).join(parts) + outer + "}"
    for member in value:
        parts.append(
            encode_basestring(member) if type(member) is str else _indented(member, level + 1)
        )
    return "[" + inner + ("," + inner).join(parts) + outer + "]"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prefixed_sha256(data: bytes) -> str:
    """``"sha256:" + hex`` — the form of ``prompt_hash`` and ``output_hash``."""
    return "sha256:" + sha256_hex(data)


def prompt_hash(request_body: Any) -> str:
    """Hash of the exact request body sent (DESIGN.md "Model output contract")."""
    return prefixed_sha256(canonical_json(request_body))
