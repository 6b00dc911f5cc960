"""Verify a ledger: every pack in it, and the hash chain that orders them.

Each pack records its ``sequence`` and the SHA-256 of the previous pack's
``evidence_pack.json``. Taken together the packs must form one chain 1..N: a gap is a
deleted pack, two packs with one sequence are a fork (or, when their indexes are
identical, a replayed copy), a previous-hash that does not match is a rewritten or
reordered pack, and a creation time earlier than its predecessor's is a clock that
went backwards. A checkpoint the auditor kept (size and head) also catches a
truncated tail or a rewritten head, which the chain alone cannot.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json
from aiops.errors import CheckpointError
from aiops.evidence.durable import discard, fsync_dir, staging_path, write_all
from aiops.evidence.findings import ChainEntry, Finding, PackReport, VerifyReport
from aiops.evidence.sign import TrustedKey
from aiops.evidence.strict import (
    DIR_FLAGS,
    MAX_LEDGER_ENTRIES,
    FileRefusedError,
    StrictJSONError,
    display_name,
    is_sha256_hex,
    loads_strict,
    read_regular_file,
    refuse_unless_replaceable,
)
from aiops.evidence.verify import verify_pack_fd

STAGING_PREFIX = ".tmp-"
CHECKPOINT_VERSION = 1
MAX_CHECKPOINT_BYTES = 64 * 1024
_CHILD_FLAGS = DIR_FLAGS | os.O_NOFOLLOW  # a pack inside the ledger: never a link


@dataclass(frozen=True)
class Checkpoint:
    """What an auditor keeps after a verified ledger: its size and its head."""

    ledger_size: int
    head_pack_id: str
    head_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint_version": CHECKPOINT_VERSION,
            "ledger_size": self.ledger_size,
            "head_pack_id": self.head_pack_id,
            "head_sha256": self.head_sha256,
        }


def verify_ledger(path: Path, trusted: TrustedKey | None = None) -> VerifyReport:
    """Verify every pack directory in ``path`` and the chain through them."""
    report = VerifyReport(kind="ledger", path=str(path))
    fd = os.open(path, DIR_FLAGS)
    try:
        for name, kind in _ledger_entries(fd, report):
            shown = display_name(name)
            if name.startswith(STAGING_PREFIX) and kind == "directory":
                report.findings.append(
                    Finding(
                        "layout",
                        "warning",
                        f"staging directory {shown!r} left by an interrupted write "
                        "(never a pack; safe to remove once no run is writing)",
                        shown,
                    )
                )
            elif name.startswith("."):
                report.findings.append(
                    Finding("layout", "error", f"hidden {kind} {shown!r} in the ledger", shown)
                )
            elif kind != "directory":
                report.findings.append(
                    Finding(
                        "layout", "error", f"{kind} {shown!r} in the ledger is not a pack", shown
                    )
                )
            else:
                report.packs.append(_verify_child(fd, path, name, trusted))
    finally:
        os.close(fd)
    report.findings += chain_findings(report.packs)
    return report


def _ledger_entries(fd: int, report: VerifyReport) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    with os.scandir(fd) as scan:
        for entry in scan:
            if entry.is_symlink():
                kind = "symbolic link"
            elif entry.is_dir(follow_symlinks=False):
                kind = "directory"
            elif entry.is_file(follow_symlinks=False):
                kind = "file"
            else:
                kind = "special file"
            entries.append((entry.name, kind))
            if len(entries) > MAX_LEDGER_ENTRIES:
                report.findings.append(
                    Finding(
                        "layout",
                        "error",
                        f"more than {MAX_LEDGER_ENTRIES} entries in the ledger: refused",
                    )
                )
                return []
    return sorted(entries)


def _verify_child(
    ledger_fd: int, ledger: Path, name: str, trusted: TrustedKey | None
) -> PackReport:
    display = str(ledger / display_name(name))
    try:
        fd = os.open(name, _CHILD_FLAGS, dir_fd=ledger_fd)
    except OSError as exc:
        report = PackReport(path=display, dir_name=name)
        report.error("layout", f"cannot open the pack directory: {exc.strerror}")
        return report
    try:
        return verify_pack_fd(fd, display, name, trusted)
    finally:
        os.close(fd)


def chain_findings(packs: list[PackReport]) -> list[Finding]:
    """Every break in the chain through ``packs`` (those whose index could be read)."""
    findings: list[Finding] = []
    by_sequence: dict[int, list[PackReport]] = defaultdict(list)
    for pack in packs:
        if pack.chain is not None:
            by_sequence[pack.chain.sequence].append(pack)
    if not by_sequence:
        return findings
    for sequence, group in sorted(by_sequence.items()):
        if len(group) > 1:
            findings += _duplicates(sequence, group)
    for first, last in _gaps(sorted(by_sequence)):
        span = f"sequence {first}" if first == last else f"sequences {first}-{last}"
        findings.append(
            Finding("chain", "error", f"{span} missing from the ledger: deleted or never written")
        )
    for sequence, group in sorted(by_sequence.items()):
        previous = by_sequence.get(sequence - 1)
        for pack in group:
            entry = pack.chain
            assert entry is not None
            findings += _link(pack.dir_name, entry, previous)
    return findings


def _duplicates(sequence: int, group: list[PackReport]) -> list[Finding]:
    names = ", ".join(repr(p.dir_name) for p in group)
    digests = {p.chain.index_sha256 for p in group if p.chain}
    if len(digests) == 1:
        message = (
            f"sequence {sequence} appears {len(group)} times with identical content "
            f"({names}): a replayed copy"
        )
    else:
        message = f"sequence {sequence} is held by {len(group)} different packs ({names}): a fork"
    return [Finding("chain", "error", message)]


def _link(name: str, entry: ChainEntry, previous: list[PackReport] | None) -> list[Finding]:
    findings = []
    if entry.sequence == 1:
        if entry.previous_pack_id is not None or entry.previous_pack_sha256 is not None:
            findings.append(Finding("chain", "error", "the first pack names a predecessor", name))
        return findings
    if entry.previous_pack_sha256 is None or entry.previous_pack_id is None:
        findings.append(
            Finding("chain", "error", f"sequence {entry.sequence} names no predecessor", name)
        )
        return findings
    if not previous:
        return findings  # the gap is reported once
    candidates = [p.chain for p in previous if p.chain is not None]
    match = [c for c in candidates if c.index_sha256 == entry.previous_pack_sha256]
    if not match:
        findings.append(
            Finding(
                "chain",
                "error",
                f"previous_pack_sha256 does not match pack {entry.sequence - 1}'s "
                "evidence_pack.json: rewritten, reordered or swapped",
                name,
            )
        )
        return findings
    before = match[0]
    if before.pack_id != entry.previous_pack_id:
        findings.append(
            Finding(
                "chain",
                "error",
                f"previous_pack_id {entry.previous_pack_id!r} is not {before.pack_id!r}",
                name,
            )
        )
    earlier, later = _time(before.creation_timestamp), _time(entry.creation_timestamp)
    if earlier is None or later is None:
        findings.append(
            Finding("chain", "error", "creation_timestamp is not an ISO 8601 time", name)
        )
    elif later < earlier:
        findings.append(
            Finding(
                "chain",
                "error",
                f"created {entry.creation_timestamp}, before its predecessor "
                f"({before.creation_timestamp}): time went backwards",
                name,
            )
        )
    return findings


def _time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _gaps(sequences: list[int]) -> list[tuple[int, int]]:
    """The missing ranges before and between the sorted ``sequences`` (from 1). Found
    from neighbours, never by counting: a pack may claim any sequence number."""
    gaps: list[tuple[int, int]] = []
    expected = 1
    for sequence in sequences:
        if sequence > expected:
            gaps.append((expected, sequence - 1))
        expected = sequence + 1
    return gaps


# --- checkpoints -----------------------------------------------------------------------


def head_of(report: VerifyReport) -> Checkpoint | None:
    """The checkpoint of a ledger report: its highest sequence and that pack."""
    entries = [p.chain for p in report.packs if p.chain is not None]
    if not entries:
        return None
    head = max(entries, key=lambda e: e.sequence)
    return Checkpoint(head.sequence, head.pack_id, head.index_sha256)


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        data = read_regular_file(path, max_bytes=MAX_CHECKPOINT_BYTES)
    except FileRefusedError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    try:
        doc = loads_strict(data)
    except StrictJSONError as exc:
        raise CheckpointError(f"checkpoint {path} is not strict JSON: {exc}") from None
    expected = {"checkpoint_version", "ledger_size", "head_pack_id", "head_sha256"}
    if not isinstance(doc, dict) or set(doc) != expected:
        raise CheckpointError(f"checkpoint {path} must hold exactly {', '.join(sorted(expected))}")
    size, head_id, head_sha = doc["ledger_size"], doc["head_pack_id"], doc["head_sha256"]
    if (
        doc["checkpoint_version"] != CHECKPOINT_VERSION
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 1
        or not isinstance(head_id, str)
        or not is_sha256_hex(head_sha)
    ):
        raise CheckpointError(f"checkpoint {path} has an invalid value")
    return Checkpoint(size, head_id, head_sha)


def checkpoint_findings(report: VerifyReport, kept: Checkpoint) -> list[Finding]:
    """Compare the ledger with a checkpoint kept earlier; the ledger may only have grown."""
    holders = [
        p.chain
        for p in report.packs
        if p.chain is not None and p.chain.sequence == kept.ledger_size
    ]
    if not holders:
        head = head_of(report)
        now = head.ledger_size if head else 0
        return [
            Finding(
                "checkpoint",
                "error",
                f"the checkpoint recorded {kept.ledger_size} packs but the ledger ends at "
                f"sequence {now}: packs were removed from the tail",
            )
        ]
    if not any(
        h.index_sha256 == kept.head_sha256 and h.pack_id == kept.head_pack_id for h in holders
    ):
        return [
            Finding(
                "checkpoint",
                "error",
                f"pack {kept.ledger_size} is not the one checkpointed ({kept.head_pack_id}, "
                f"sha256 {kept.head_sha256}): the ledger was rewritten",
            )
        ]
    return []


def check_checkpoint_target(path: Path) -> None:
    """Refuse (exit 2) a ``--write-checkpoint`` path holding anything but a regular
    file; called before the ledger is verified, and again just before the rename."""
    try:
        refuse_unless_replaceable(path)
    except FileRefusedError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from None


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically and durably (temporary file, fsync, rename, fsync of the
    directory), replacing the previous checkpoint; the auditor keeps it elsewhere.
    Only a regular file is replaced: never a FIFO, a device or a symbolic link."""
    check_checkpoint_target(path)
    temporary = staging_path(path)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, pack_json(checkpoint.to_json()))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror}") from None
    finally:
        discard(temporary)
