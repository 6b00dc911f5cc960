"""Read a model's JSON answer so that every reader sees the same value.

Python's ``json`` keeps the last of two equal keys where other parsers keep the first,
so ``{"decision": "REJECT", ..., "decision": "APPROVE"}`` would be approved here and read
as a rejection elsewhere; and it accepts ``NaN``/``Infinity``, which are not JSON
(RFC 8259) and cannot be written to an evidence pack. Both are refused as not JSON, so
scope enforcement and the critic's verdict fail closed on them.
"""

from __future__ import annotations

import json
from typing import Any


def loads_model_json(text: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` on duplicate keys, non-finite numbers and
    strings that are not Unicode text (a lone ``\\ud800`` escape): none of them could be
    written to evidence, which is UTF-8 JSON without NaN."""
    value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string is not valid Unicode (lone surrogate escape)") from None
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError(f"duplicate key {key[:40]!r}")
        value[key] = item
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
