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
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prefixed_sha256(data: bytes) -> str:
    """``"sha256:" + hex`` — the form of ``prompt_hash`` and ``output_hash``."""
    return "sha256:" + sha256_hex(data)


def prompt_hash(request_body: Any) -> str:
    """Hash of the exact request body sent (DESIGN.md "Model output contract")."""
    return prefixed_sha256(canonical_json(request_body))
