"""Which pack a command means: a path, a pack id (``EVP-L2-2026-01-10-001``) or
``latest`` (the newest pack of the ledger by sequence).

Only the standard library and the strict JSON reader are used, so ``verify-pack``
resolving a reference still never imports Pydantic. An id or ``latest`` is looked up in
the ledger (``./evidence_packs`` or ``AIOPS_PACKS_DIR``); an id no pack holds, or
``latest`` in an empty ledger, is a usage error (exit 2). An entry whose index cannot be
read is passed over here: ``verify-pack`` on the ledger reports it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from aiops.errors import UsageError
from aiops.evidence.names import EVIDENCE_PACK_FILE
from aiops.evidence.strict import MAX_INDEX_BYTES, StrictJSONError, loads_strict, read_file_in

LATEST = "latest"
PACK_ID = re.compile(r"EVP-L[0-6]-\d{4}-\d{2}-\d{2}-\d{3,}")


def default_ledger() -> Path:
    """The ledger the run commands write to: ``AIOPS_PACKS_DIR`` or ``./evidence_packs``."""
    from aiops.settings import Settings

    return Settings().packs_dir


def is_reference(text: str) -> bool:
    """``latest`` or a pack id: a name to look up in the ledger, not a path."""
    return text == LATEST or PACK_ID.fullmatch(text) is not None


def resolve_pack(ref: str | os.PathLike[str], ledger: Callable[[], Path] = default_ledger) -> Path:
    """The pack directory ``ref`` names. A path is returned as given (whoever opens it
    reports a missing or invalid pack); an existing path wins over an id of the same
    spelling."""
    text = os.fspath(ref)
    if not is_reference(text) or Path(text).exists():
        return Path(text)
    where = ledger()
    indexed = ledger_indexes(where)
    if not indexed:
        raise UsageError(f"no evidence packs in {where} to find {text!r} in")
    if text == LATEST:
        top = max(sequence for sequence, _, _ in indexed)
        matches = [path for sequence, _, path in indexed if sequence == top]
    else:
        matches = [path for _, pack_id, path in indexed if pack_id == text]
    if not matches:
        raise UsageError(f"no pack {text!r} in the ledger {where}")
    if len(matches) > 1:  # a damaged ledger: never guess which pack was meant
        held = " and ".join(p.name for p in matches)
        raise UsageError(f"{text!r} is ambiguous in the ledger {where}: {held}")
    return matches[0]


def ledger_indexes(ledger: Path) -> list[tuple[int, str, Path]]:
    """(sequence, pack id, directory) of every pack of ``ledger`` whose index reads."""
    try:
        with os.scandir(ledger) as scan:
            names = sorted(e.name for e in scan if not e.name.startswith("."))
    except OSError:
        return []
    found = []
    for name in names:
        read = read_file_in(ledger / name, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
        if read.status is not None or read.data is None:
            continue
        try:
            doc = loads_strict(read.data)
        except StrictJSONError:
            continue
        sequence = doc.get("sequence") if isinstance(doc, dict) else None
        pack_id = doc.get("evidence_pack_id") if isinstance(doc, dict) else None
        if type(sequence) is int and isinstance(pack_id, str):
            found.append((sequence, pack_id, ledger / name))
    return found
