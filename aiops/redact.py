"""Remove anything that looks like a credential from text bound for logs or evidence.

Used for provider error messages before they reach an ``Attempt``, the audit log or a
pack. It replaces the values of the provider keys actually set in the environment,
``Authorization`` headers and bearer tokens, ``sk-`` style keys, ``api_key=...``-like
pairs (also in query strings) and long random-looking tokens. It errs towards removing
too much: a scrubbed message is still readable, a leaked key is not recoverable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
MAX_MESSAGE_CHARS = 500
# Shorter values are not treated as secrets (they would erase ordinary words).
MIN_SECRET_CHARS = 8

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"(?i)\b(proxy-)?authorization\b(\s*[:=]\s*)[^\r\n,;]*"),
        rf"\1authorization\2{REDACTED}",
    ),
    (re.compile(r"(?i)\bbearer\s+[^\s,;'\"]+"), f"Bearer {REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), REDACTED),
    (
        re.compile(
            r"(?i)\b((?:x-)?api[_-]?key|access[_-]?token|secret|password|token|key)"
            r"(\"?'?\s*[:=]\s*\"?'?)[^\s\"',;&}]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # Long mixed letter-and-digit runs: keys, tokens, signatures.
    (
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])"
            r"[A-Za-z0-9_\-]{32,}(?![A-Za-z0-9_\-])"
        ),
        REDACTED,
    ),
]


def scrub_secrets(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``[REDACTED]`` and trimmed to a line."""
    for secret in sorted(known_secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())  # one line
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def secrets_from_env(variable_names: Iterable[str]) -> list[str]:
    """The values of the named environment variables that are set (provider keys)."""
    values = (os.environ.get(name, "") for name in variable_names)
    return [value for value in values if len(value) >= MIN_SECRET_CHARS]
