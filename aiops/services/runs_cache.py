"""The per-user cache of ``aiops runs`` rows, so a ledger of 10,000 packs lists in
under 2 s (DESIGN.md) although each pack is read in full, strictly, once.

A pack is never rewritten, but its files could be: each cached row is kept with the
fingerprint of every file it was read from (``evidence_pack.json``, the two model
output files and ``review.json``): their stamps (``file_stamps``: device, inode, size,
modification and change times). Any change, including one that restores the
modification time (the change time cannot be set back), and the pack is read again.
The cache is a convenience, never evidence: ``aiops show`` and ``verify-pack`` always
read the pack itself. It lives under ``$XDG_CACHE_HOME/aiops/runs`` (else
``~/.cache/aiops/runs``), one file per ledger; a cache that does not read is ignored
and one that cannot be written is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiops import __version__
from aiops.evidence.names import (
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    PROPOSER_OUTPUT_FILE,
    REVIEW_FILE,
)
from aiops.schemas.runs import RunRow
from aiops.services.file_stamps import (
    Stamp,
    ledger_cache_file,
    load_entries,
    save_entries,
    stamp,
)

CACHE_VERSION = 2  # 2: stamps carry the device
_WATCHED = (EVIDENCE_PACK_FILE, PROPOSER_OUTPUT_FILE, CRITIC_OUTPUT_FILE, REVIEW_FILE)

Fingerprint = list[Stamp | None]


def fingerprint(pack: Path) -> Fingerprint:
    return [stamp(pack / name) for name in _WATCHED]


class RowCache:
    """Rows by pack directory name, valid while their fingerprint holds."""

    def __init__(self, ledger: Path, context: str) -> None:
        """``context``: what else a row depends on (the registry's prices, for packs
        that recorded no cost); a cache kept under another context is not used."""
        self.path = ledger_cache_file("runs", ledger)
        self.header = {
            "version": CACHE_VERSION,
            "aiops": __version__,
            "ledger": os.path.abspath(ledger),
            "context": context,
        }
        self.entries: dict[str, Any] = load_entries(self.path, self.header)[0]
        self.fresh: dict[str, Any] = {}

    def get(self, pack: Path, print_: Fingerprint) -> RunRow | None:
        entry = self.entries.get(pack.name)
        if not isinstance(entry, dict) or entry.get("fp") != print_:
            return None
        try:
            row = RunRow.model_validate({**entry["row"], "pack_path": str(pack)})
        except (KeyError, TypeError, ValueError):
            return None
        self.fresh[pack.name] = entry
        return row

    def put(self, name: str, print_: Fingerprint, row: RunRow) -> None:
        self.fresh[name] = {"fp": print_, "row": row.model_dump(mode="json")}

    def save(self) -> None:
        """Keep exactly the packs seen this time; skipped when nothing changed."""
        if self.fresh != self.entries:
            save_entries(self.path, self.header, self.fresh)
