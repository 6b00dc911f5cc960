"""The ledger: a directory of packs chained by sequence number and hash.

A pack is a non-hidden subdirectory holding ``evidence_pack.json``. Each pack records
its ``sequence`` and the SHA-256 of the previous pack's ``evidence_pack.json``.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiops.evidence.names import EVIDENCE_PACK_FILE
from aiops.evidence.strict import MAX_INDEX_BYTES, StrictJSONError, loads_strict, read_file_in


@dataclass(frozen=True)
class ChainLink:
    """Where a new pack goes in the chain."""

    sequence: int
    previous_pack_id: str | None
    previous_pack_sha256: str | None


def pack_dirs(ledger: Path) -> list[Path]:
    """Every pack directory in a ledger, in name order."""
    if not ledger.is_dir():
        return []
    return sorted(
        entry for entry in ledger.iterdir() if not entry.name.startswith(".") and _is_pack(entry)
    )


def _is_pack(entry: Path) -> bool:
    try:
        return entry.is_dir() and not entry.is_symlink() and (entry / EVIDENCE_PACK_FILE).is_file()
    except OSError:  # a directory we may not enter: a pack we cannot read, which whoever
        return True  # reads it reports (verify-pack: not verified), never a traceback


def chain_head(ledger: Path) -> ChainLink:
    """The link a new pack takes: one past the highest sequence in the ledger."""
    best: tuple[int, str, str] | None = None
    for directory in pack_dirs(ledger):
        read = read_file_in(directory, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
        try:
            index = loads_strict(read.data) if read.status is None and read.data else None
        except StrictJSONError:
            index = None
        sequence = index.get("sequence") if isinstance(index, dict) else None
        pack_id = index.get("evidence_pack_id") if isinstance(index, dict) else None
        if type(sequence) is not int or not isinstance(pack_id, str) or read.sha256 is None:
            continue  # not ours to chain from; verify-pack reports it
        if best is None or sequence > best[0]:
            best = (sequence, pack_id, read.sha256)
    if best is None:
        return ChainLink(1, None, None)
    return ChainLink(best[0] + 1, best[1], best[2])


@contextmanager
def locked(ledger: Path) -> Iterator[None]:
    """Exclusive lock on the ledger directory itself, so concurrent runs serialise."""
    fd = os.open(ledger, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def pack_dir_name(layer_id: str, layer_name: str, day: str, sequence: int) -> str:
    """``<LAYER>_<NAME>_<YYYY-MM-DD>_<NNN>``, e.g. ``L2_MARKET_OUTLOOK_2026-01-10_001``."""
    name = re.sub(r"[^A-Z0-9]+", "_", layer_name.upper()).strip("_")
    return f"{layer_id}_{name}_{day}_{sequence:03d}"


def evidence_pack_id(layer_id: str, day: str, sequence: int) -> str:
    return f"EVP-{layer_id}-{day}-{sequence:03d}"
