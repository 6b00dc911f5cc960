"""Remove credentials from text bound for logs, messages or evidence.

Two uses, one set of secrets (``aiops.known_secrets``: the values the run knows, in
every form they could be echoed):

- ``scrub_secrets`` — provider error messages before they reach an ``Attempt``, the
  audit log, a pack or stderr. It replaces the known secrets, ``Authorization``
  headers and bearer tokens, ``sk-`` style keys, ``api_key=...``-like pairs (also in
  query strings) and long random-looking tokens, and trims the text to one line. It
  errs towards removing too much: a scrubbed message is still readable, a leaked key
  is not recoverable.
- ``redact_model_text`` — a model's answer before it is stored (output files, the
  report, transcripts and fixtures). Only the known secrets and the secret shapes
  (``SECRET_SHAPES``) are replaced, each by ``REDACTION_MARKER``; the rest of the
  text is kept as received, so the stored text is still the answer an auditor reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiops.known_secrets import MIN_SECRET_CHARS, KnownSecrets, active, from_values

REDACTED = "[REDACTED]"
# What a secret in a model's answer is replaced by in the stored text. verify-pack
# counts it against the pack's redaction record.
REDACTION_MARKER = "[REDACTED-SECRET]"
SECRET_SHAPED = "secret_shaped"
MAX_MESSAGE_CHARS = 500

# Secret-shaped strings in a model's answer: a violation wherever they appear, and
# removed from the stored text. A private key block is removed with its body.
SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    "private_key_block": re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s\\]*-----END [A-Z ]*PRIVATE "
        r"KEY-----)?[A-Za-z0-9+/=\s\\]*"
    ),
    "api_key": re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    "bearer_token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
}
# Text each shape cannot match without (the shapes are case-sensitive): a shape is
# searched for only in text holding one of its hints, found far faster than the
# search itself (which, starting at a word boundary, tries every position).
_SHAPE_HINTS: dict[str, tuple[str, ...]] = {
    "private_key_block": ("-----BEGIN ",),
    "api_key": ("sk-",),
    "bearer_token": ("Bearer",),
    "aws_access_key": ("AKIA", "ASIA"),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"(?i)\b(proxy-)?authorization\b(\s*[:=]\s*)[^\r\n,;]*"),
        rf"\1authorization\2{REDACTED}",
    ),
    (re.compile(r"(?i)\bbearer\s+[^\s,;'\"]+"), f"Bearer {REDACTED}"),
    (re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/_\-]{8,}=*"), f"Basic {REDACTED}"),
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
    """``text`` with credentials replaced by ``[REDACTED]`` and trimmed to a line:
    the run's known secrets (``aiops.known_secrets.active``), ``known_secrets`` and
    every credential shape."""
    text = redact_known(text, from_values(known_secrets, "provider_key").merged(active()))
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())  # one line
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def redact_known(text: str, known: KnownSecrets | None = None, marker: str = REDACTED) -> str:
    """``text`` with every form of the known secrets (default: the run's) replaced."""
    for form, _ in (known if known is not None else active()).forms:
        if form in text:
            text = text.replace(form, marker)
    return text


def secrets_from_env(variable_names: Iterable[str]) -> list[str]:
    """The values of the named environment variables that are set (provider keys)."""
    values = (os.environ.get(name, "") for name in variable_names)
    return [value for value in values if len(value) >= MIN_SECRET_CHARS]


# --- Model answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class RedactedText:
    """A model's answer as stored: ``text`` with each secret replaced by the marker.
    ``kinds`` names what was found (``provider_key``, ``proxy_password``,
    ``url_credential``, ``secret_shaped``), empty when nothing was."""

    text: str
    kinds: tuple[str, ...] = ()

    @property
    def redacted(self) -> bool:
        return bool(self.kinds)

    @property
    def count(self) -> int:
        """How many markers the stored text holds (0 when nothing was redacted)."""
        return self.text.count(REDACTION_MARKER) if self.kinds else 0


def secret_kinds(text: str, known: KnownSecrets | None = None) -> dict[str, str]:
    """What secrets ``text`` holds, literally: kind -> the first thing found there
    (a secret shape's name, or the kind itself for a known value). Never the value."""
    found: dict[str, str] = {}
    for form, kind in (known if known is not None else active()).forms:
        if kind not in found and form in text:
            found[kind] = kind
    for name, pattern in SECRET_SHAPES.items():
        if SECRET_SHAPED in found:
            break
        if any(hint in text for hint in _SHAPE_HINTS[name]) and pattern.search(text):
            found[SECRET_SHAPED] = name
    return found


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from strings_in(child)
    elif isinstance(value, list):
        for child in value:
            yield from strings_in(child)


def redact_model_text(text: str, known: KnownSecrets | None = None) -> RedactedText:
    """``text`` with every known secret and secret shape replaced by the marker.

    A secret written with JSON escapes (``\\u0073k-...``, ``\\/``) is not in the
    text literally and cannot be cut out of it piecewise: when the unescaped text
    still holds one, the whole stored text becomes the marker."""
    known = known if known is not None else active()
    kinds = set(secret_kinds(text, known))
    if kinds:  # else no form is in the text and no shape matches it: nothing to replace
        for form, _ in known.forms:
            if form in text:
                text = text.replace(form, REDACTION_MARKER)
        for pattern in SECRET_SHAPES.values():
            text = pattern.sub(REDACTION_MARKER, text)
    if "\\" in text:
        hidden = secret_kinds(unescaped(text), known)
        if hidden:
            kinds.update(hidden)
            text = REDACTION_MARKER
    return RedactedText(text, tuple(sorted(kinds)))


_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|([\\/"]))')


def unescaped(text: str) -> str:
    """``text`` with JSON string escapes decoded (for scanning, not for storing)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), text)


def redact_json(value: Any, known: KnownSecrets | None = None) -> tuple[Any, set[str]]:
    """A JSON value with ``redact_model_text`` applied to every string (keys too), and
    the kinds it found."""
    kinds: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            result = redact_model_text(node, known)
            kinds.update(result.kinds)
            return result.text
        if isinstance(node, dict):
            return {walk(str(key)): walk(child) for key, child in node.items()}
        if isinstance(node, list):
            return [walk(child) for child in node]
        return node

    return walk(value), kinds
