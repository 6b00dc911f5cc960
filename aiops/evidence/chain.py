"""Verify a ledger: every pack in it, and the hash chain that orders them.

Each pack records its ``sequence`` and the SHA-256 of the previous pack's
``evidence_pack.json``. Taken together the packs must form one chain 1..N: a gap is a
deleted pack, two packs with one sequence are a fork (or, when their indexes are
identical, a replayed copy), a previous-hash that does not match is a rewritten or
reordered pack, and a creation time earlier than its predecessor's is a clock that
went backwards. A checkpoint the auditor kept (size, head and the reviews held) also
catches a truncated tail, a rewritten head and a deleted or replaced review, which the
chain alone cannot.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json
from aiops.errors import CheckpointError
from aiops.evidence.durable import discard, fsync_dir, staging_path, write_all
from aiops.evidence.findings import ChainEntry, Finding, PackReport, VerifyReport
from aiops.evidence.ledger import STAGING_PREFIX, staging_owner
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
from aiops.evidence.verify import PackSeen, verify_pack_fd

CHECKPOINT_VERSION = 2  # 2 adds the reviews; a version-1 checkpoint is still read
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024  # a review is about 250 bytes of it
_CHILD_FLAGS = DIR_FLAGS | os.O_NOFOLLOW  # a pack inside the ledger: never a link
_CHECKPOINT_KEYS = frozenset({"checkpoint_version", "ledger_size", "head_pack_id", "head_sha256"})
_MARK_KEYS = frozenset({"sequence", "evidence_pack_id", "review_sha256", "envelope_sha256"})


@dataclass(frozen=True)
class ReviewMark:
    """A review the checkpointed ledger held: its pack, its bytes, its signature."""

    sequence: int
    evidence_pack_id: str
    review_sha256: str
    envelope_sha256: str | None  # None: the review was not signed

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "evidence_pack_id": self.evidence_pack_id,
            "review_sha256": self.review_sha256,
            "envelope_sha256": self.envelope_sha256,
        }


@dataclass(frozen=True)
class Checkpoint:
    """What an auditor keeps after a verified ledger: its size, its head and (from
    version 2) every review it held, so a review deleted later is seen."""

    ledger_size: int
    head_pack_id: str
    head_sha256: str
    reviews: tuple[ReviewMark, ...] | None = None  # None: a version-1 checkpoint

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "checkpoint_version": 1 if self.reviews is None else CHECKPOINT_VERSION,
            "ledger_size": self.ledger_size,
            "head_pack_id": self.head_pack_id,
            "head_sha256": self.head_sha256,
        }
        if self.reviews is not None:
            doc["reviews"] = [mark.to_json() for mark in self.reviews]
        return doc


ChildCheck = Callable[[int, Path, str, "TrustedKey | None", "PackSeen | None"], PackReport]


def verify_ledger(
    path: Path,
    trusted: TrustedKey | None = None,
    seen: PackSeen | None = None,
    check: ChildCheck | None = None,
) -> VerifyReport:
    """Verify every pack directory in ``path`` and the chain through them; ``seen`` is
    handed what was read of each pack whose index parsed (``verify.ReadPack``).
    ``check`` replaces the verification of one pack directory (``verify_child``): the
    pilot report's cache of packs verified earlier; verify-pack never passes one."""
    check = check or verify_child
    report = VerifyReport(kind="ledger", path=str(path))
    fd = os.open(path, DIR_FLAGS)
    try:
        for name, kind in _ledger_entries(fd, report):
            shown = display_name(name)
            if name.startswith(STAGING_PREFIX) and kind in ("directory", "file"):
                report.findings.append(_staging_left(path, name, kind))
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
                report.packs.append(check(fd, path, name, trusted, seen))
    finally:
        os.close(fd)
    report.findings += chain_findings(report.packs)
    return report


def _staging_left(ledger: Path, name: str, kind: str) -> Finding:
    """A ``.tmp-*`` entry: what aiops stages a pack (a directory), a review or a
    checkpoint (a file) in before it is renamed or linked into place. Left behind only
    by a command that was killed; never evidence, never read."""
    shown = display_name(name)
    owner = staging_owner(name)
    cleaned = (
        "the next run into this ledger removes it, or remove it"
        if owner is not None
        else "remove it"
    )
    return Finding(
        "layout",
        "warning",
        f"staging {kind} {shown!r} left by an interrupted aiops command (never evidence): "
        f"{cleaned} once no aiops command is running (rm -r {str(ledger / shown)!r})",
        shown,
    )


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


def verify_child(
    ledger_fd: int, ledger: Path, name: str, trusted: TrustedKey | None, seen: PackSeen | None
) -> PackReport:
    display = str(ledger / display_name(name))
    try:
        fd = os.open(name, _CHILD_FLAGS, dir_fd=ledger_fd)
    except OSError as exc:
        report = PackReport(path=display, dir_name=name)
        report.error("layout", f"cannot open the pack directory: {exc.strerror}")
        return report
    try:
        return verify_pack_fd(fd, display, name, trusted, seen)
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
    # The time rule is what the writer guarantees: it fixes a pack's creation time when
    # it claims the sequence under the ledger's lock, never before its predecessor's, so
    # along the sequence the times never decrease (equal times are allowed).
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
    """The checkpoint of a ledger report: its highest sequence and that pack, and every
    review in it."""
    entries = [p.chain for p in report.packs if p.chain is not None]
    if not entries:
        return None
    head = max(entries, key=lambda e: e.sequence)
    reviews = [
        ReviewMark(
            p.chain.sequence, p.chain.pack_id, p.review.review_sha256, p.review.envelope_sha256
        )
        for p in report.packs
        if p.chain is not None and p.review.review_sha256 is not None
    ]
    reviews.sort(key=lambda m: (m.sequence, m.evidence_pack_id))
    return Checkpoint(head.sequence, head.pack_id, head.index_sha256, tuple(reviews))


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        data = read_regular_file(path, max_bytes=MAX_CHECKPOINT_BYTES)
    except FileRefusedError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    try:
        doc = loads_strict(data)
    except StrictJSONError as exc:
        raise CheckpointError(f"checkpoint {path} is not strict JSON: {exc}") from None
    version = doc.get("checkpoint_version") if isinstance(doc, dict) else None
    expected = _CHECKPOINT_KEYS | ({"reviews"} if version == CHECKPOINT_VERSION else set())
    if not isinstance(doc, dict) or set(doc) != expected:
        raise CheckpointError(f"checkpoint {path} must hold exactly {', '.join(sorted(expected))}")
    size, head_id, head_sha = doc["ledger_size"], doc["head_pack_id"], doc["head_sha256"]
    if (
        version not in (1, CHECKPOINT_VERSION)
        or not _positive(size)
        or not isinstance(head_id, str)
        or not is_sha256_hex(head_sha)
    ):
        raise CheckpointError(f"checkpoint {path} has an invalid value")
    if version == 1:
        return Checkpoint(size, head_id, head_sha)
    reviews = _marks(doc["reviews"])
    if reviews is None:
        raise CheckpointError(f"checkpoint {path} has an invalid review entry")
    return Checkpoint(size, head_id, head_sha, reviews)


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _marks(entries: Any) -> tuple[ReviewMark, ...] | None:
    """The reviews of a version-2 checkpoint; ``None`` when any entry is malformed or a
    sequence is named twice."""
    if not isinstance(entries, list):
        return None
    marks: list[ReviewMark] = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != _MARK_KEYS:
            return None
        envelope = entry["envelope_sha256"]
        if (
            not _positive(entry["sequence"])
            or not isinstance(entry["evidence_pack_id"], str)
            or not is_sha256_hex(entry["review_sha256"])
            or not (envelope is None or is_sha256_hex(envelope))
        ):
            return None
        marks.append(
            ReviewMark(
                entry["sequence"], entry["evidence_pack_id"], entry["review_sha256"], envelope
            )
        )
    if len({m.sequence for m in marks}) != len(marks):
        return None
    return tuple(marks)


def checkpoint_findings(report: VerifyReport, kept: Checkpoint) -> list[Finding]:
    """Compare the ledger with a checkpoint kept earlier; the ledger may only have grown
    (more packs, more reviews), never lost or changed what was checkpointed."""
    return _head_findings(report, kept) + _review_findings(report, kept.reviews or ())


def _head_findings(report: VerifyReport, kept: Checkpoint) -> list[Finding]:
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


def _review_findings(report: VerifyReport, marks: tuple[ReviewMark, ...]) -> list[Finding]:
    """Each checkpointed review must still be there, byte for byte, with its signature.
    A pack that is gone or rewritten is the chain's and the head's finding, not this."""
    packs: dict[tuple[int, str], PackReport] = {}
    for pack in report.packs:
        if pack.chain is not None:
            packs.setdefault((pack.chain.sequence, pack.chain.pack_id), pack)
    findings = []
    for mark in marks:
        held = packs.get((mark.sequence, mark.evidence_pack_id))
        if held is None:
            continue
        now = held.review
        what = f"the review of {mark.evidence_pack_id} (sequence {mark.sequence})"
        if not now.present:
            message = f"{what} is in the checkpoint but no longer in the ledger: deleted"
        elif now.review_sha256 is None:
            continue  # there, but unreadable: reported with the pack
        elif now.review_sha256 != mark.review_sha256:
            message = f"{what} differs from the one checkpointed: altered or replaced"
        elif mark.envelope_sha256 is not None and now.envelope_sha256 is None:
            message = f"{what} was signed when checkpointed; its signature was removed"
        elif mark.envelope_sha256 is not None and now.envelope_sha256 != mark.envelope_sha256:
            message = f"{what} carries another signature than the one checkpointed: re-signed"
        else:
            continue
        findings.append(Finding("review", "error", message, held.dir_name))
    return findings


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
