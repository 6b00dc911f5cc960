"""Read a model's JSON answer so that every reader sees the same value.

Python's ``json`` keeps the last of two equal keys where other parsers keep the first,
so ``{"decision": "REJECT", ..., "decision": "APPROVE"}`` would be approved here and read
as a rejection elsewhere; and it accepts ``NaN``/``Infinity`` and lone surrogate escapes,
which are not JSON text and cannot be written to an evidence pack. Answers, provider
bodies and fixtures are therefore read with the verifier's strict reader, so scope
enforcement and the critic's verdict fail closed on all of them.
"""

from __future__ import annotations

from typing import Any

from aiops.evidence.strict import loads_strict


def loads_model_json(text: str | bytes) -> Any:
    """Strict JSON (``aiops.evidence.strict.loads_strict``); raises ``ValueError``."""
    if isinstance(text, str):
        try:
            text = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the text is not valid Unicode (a lone surrogate)") from None
    return loads_strict(text)
