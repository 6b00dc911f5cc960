"""Re-check the evidence packs a pack took as input (``inputs_manifest``).

Each entry of kind ``evidence_pack`` names a pack by id and by the SHA-256 of its
``evidence_pack.json`` as it was when the run admitted it. The pack must still be there
(in the consumer's own ledger, or for an entry from another ledger in the one given
with ``--input-ledger``), still hash to the recorded value, and verify — its own input
packs included, so a pack altered two steps up the chain fails every pack built on it,
each finding naming the consumer and the pack it took.

Standard library only (``verify-pack`` never imports Pydantic). The admission of input
packs before a run (``aiops.services.input_packs``) uses the same checks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.evidence.names import EVIDENCE_PACK_FILE
from aiops.evidence.strict import MAX_INDEX_BYTES, read_file_in

if TYPE_CHECKING:
    from aiops.evidence.findings import PackReport, VerifyReport
    from aiops.evidence.sign import TrustedKey

INPUT_PACK_KIND = "evidence_pack"
MAX_DEPTH = 16  # input packs of input packs: deeper than this is refused


def input_pack_refs(manifest: Any) -> list[dict[str, Any]]:
    """The input-pack entries of a ``run_manifest.json`` document (already checked
    against its schema), in order."""
    entries = manifest.get("inputs_manifest") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and e.get("kind") == INPUT_PACK_KIND]


@dataclass
class InputsChecker:
    """Finds and verifies referenced packs, each once (results are kept by path)."""

    input_ledger: Path | None = None
    trusted: TrustedKey | None = None
    reports: dict[str, PackReport] = field(default_factory=dict)  # already verified
    _indexes: dict[str, list[tuple[int, str, Path]]] = field(default_factory=dict)
    _problems: dict[str, list[str]] = field(default_factory=dict)

    def problems(self, consumer: str, ledger: Path, refs: list[dict[str, Any]]) -> list[str]:
        """Why the input packs ``refs`` of the pack ``consumer`` (in ``ledger``) fail."""
        return self._refs_problems(consumer, ledger, refs, 0)

    def locate(self, ref: dict[str, Any], ledger: Path) -> tuple[Path | None, str]:
        """The pack ``ref`` names and, when it cannot be used, why."""
        pack_id, recorded = ref["evidence_pack_id"], ref["evidence_pack_sha256"]
        if ref.get("same_ledger", True):
            where = ledger
        elif self.input_ledger is not None:
            where = self.input_ledger
        else:
            return None, "it is in another ledger: name that ledger with --input-ledger DIR"
        candidates = [path for _, held, path in self._ledger(where) if held == pack_id]
        if not candidates:
            return None, f"no pack {pack_id} in the ledger {where}"
        hashes = {str(path): index_sha256(path) for path in candidates}
        for path in candidates:
            if hashes[str(path)] == recorded:
                return path, ""
        now = ", ".join(f"{h[:12]}…" if h else "unreadable" for h in hashes.values())
        return None, (
            f"its {EVIDENCE_PACK_FILE} no longer hashes to the recorded SHA-256 "
            f"(recorded {recorded[:12]}…, now {now}): it was altered after it was taken"
        )

    def pack_problems(self, path: Path, depth: int = 0) -> list[str]:
        """Why the pack at ``path`` does not verify, its own input packs included."""
        key = os.path.realpath(path)
        if key in self._problems:
            return self._problems[key]
        if depth > MAX_DEPTH:
            return [f"input packs nested deeper than {MAX_DEPTH}"]
        self._problems[key] = ["its input packs lead back to itself"]  # a loop, if reached
        report = self.reports.get(key)
        if report is None:
            from aiops.evidence.verify import verify_pack

            report = verify_pack(path, self.trusted)
        found = [
            f"{f.name} {f.status}" + (f" ({f.detail})" if f.detail else "")
            for f in report.failed_files
        ]
        found += [f.message for f in report.errors if f.check != "inputs"]
        found += self._refs_problems(
            report.pack_id or path.name, path.parent, report.input_packs, depth + 1
        )
        self._problems[key] = found
        return found

    def _refs_problems(
        self, consumer: str, ledger: Path, refs: list[dict[str, Any]], depth: int
    ) -> list[str]:
        found = []
        for ref in refs:
            named = (
                f"input pack {ref['evidence_pack_id']} (sequence {ref['sequence']}) of {consumer}"
            )
            path, problem = self.locate(ref, ledger)
            if path is None:
                found.append(f"{named}: {problem}")
                continue
            inner = self.pack_problems(path, depth)
            if inner:
                more = f" (and {len(inner) - 1} more)" if len(inner) > 1 else ""
                found.append(f"{named} does not verify: {inner[0]}{more}")
        return found

    def _ledger(self, ledger: Path) -> list[tuple[int, str, Path]]:
        key = os.path.realpath(ledger)
        if key not in self._indexes:
            from aiops.services.pack_ref import ledger_indexes

            self._indexes[key] = ledger_indexes(ledger)
        return self._indexes[key]


def index_sha256(pack: Path) -> str:
    """SHA-256 of the pack's ``evidence_pack.json`` as it is now ("" if unreadable)."""
    read = read_file_in(pack, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
    if read.status is not None or read.data is None:
        return ""
    return hashlib.sha256(read.data).hexdigest()


def check_pack_inputs(
    pack: PackReport, input_ledger: Path | None = None, trusted: TrustedKey | None = None
) -> None:
    """Add an ``inputs`` error to one verified pack whose input packs fail."""
    checker = InputsChecker(input_ledger=input_ledger, trusted=trusted)
    checker.reports[os.path.realpath(pack.path)] = pack
    for problem in checker.problems(
        pack.pack_id or pack.dir_name, Path(pack.path).parent, pack.input_packs
    ):
        pack.error("inputs", problem)


def check_report_inputs(
    report: VerifyReport, input_ledger: Path | None, trusted: TrustedKey | None
) -> None:
    """Add an ``inputs`` error to every pack of ``report`` whose input packs fail."""
    consumers = [p for p in report.packs if p.input_packs]
    if not consumers:
        return
    checker = InputsChecker(input_ledger=input_ledger, trusted=trusted)
    for pack in report.packs:
        checker.reports[os.path.realpath(pack.path)] = pack
    for pack in consumers:
        here = Path(pack.path)
        for problem in checker.problems(
            pack.pack_id or pack.dir_name, here.parent, pack.input_packs
        ):
            pack.error("inputs", problem)
