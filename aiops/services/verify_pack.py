"""Verify a pack or a ledger offline: the use case behind ``aiops verify-pack``.

The service never prints; it returns a ``VerifyReport`` that the CLI renders as a
table or as JSON. Usage problems (no such path, neither a pack nor a ledger, an
unreadable key or checkpoint) raise errors with exit code 2 before anything is read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiops.errors import NotAPackError, UsageError
from aiops.evidence.chain import (
    check_checkpoint_target,
    checkpoint_findings,
    head_of,
    read_checkpoint,
    verify_ledger,
    write_checkpoint,
)
from aiops.evidence.findings import Finding, VerifyReport
from aiops.evidence.inputs_check import check_report_inputs
from aiops.evidence.names import PACK_FILES, SIDECAR_FILES
from aiops.evidence.sign import load_public_key
from aiops.evidence.strict import MAX_LEDGER_ENTRIES, display_name
from aiops.evidence.verify import verify_pack


@dataclass(frozen=True)
class VerifyOptions:
    path: Path
    key: Path | None = None
    checkpoint: Path | None = None
    write_checkpoint: Path | None = None
    input_ledger: Path | None = None  # where input packs from another ledger are


@dataclass(frozen=True)
class VerifyOutcome:
    report: VerifyReport
    checkpoint_written: Path | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.report.verified else 1


def classify(path: Path) -> Literal["pack", "ledger"]:
    """A pack holds pack files (``evidence_pack.json`` above all); a ledger holds pack
    directories. Anything else is not for ``verify-pack`` (exit 2)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise NotAPackError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise NotAPackError(f"{path} is not a directory: give a pack or a ledger directory")
    has_subdir = False
    try:
        with os.scandir(path) as scan:
            for count, entry in enumerate(scan):
                if entry.name in PACK_FILES or entry.name in SIDECAR_FILES:
                    return "pack"
                if (
                    not has_subdir
                    and not entry.name.startswith(".")
                    and entry.is_dir(follow_symlinks=False)
                ):
                    has_subdir = True
                if count > MAX_LEDGER_ENTRIES:
                    break
    except OSError as exc:
        raise NotAPackError(f"{path}: {exc.strerror}") from None
    if has_subdir:
        return "ledger"
    raise NotAPackError(
        f"{path} is neither a pack (no evidence_pack.json) nor a ledger (no pack directories)"
    )


def _outside_the_ledger(checkpoint: Path, ledger: Path) -> None:
    """A checkpoint written into the ledger would be an entry that is not a pack: the
    next verification would fail on it. It is kept apart, as its purpose requires."""
    where, root = os.path.realpath(checkpoint.parent), os.path.realpath(ledger)
    if where == root or where.startswith(root.rstrip(os.sep) + os.sep):
        raise UsageError(
            f"--write-checkpoint {checkpoint} is inside the ledger {ledger}: keep the "
            "checkpoint outside it (any file in a ledger that is not a pack fails it)"
        )


def verify(options: VerifyOptions) -> VerifyOutcome:
    trusted = load_public_key(options.key) if options.key is not None else None
    kept = read_checkpoint(options.checkpoint) if options.checkpoint is not None else None
    if options.write_checkpoint is not None:
        check_checkpoint_target(options.write_checkpoint)
    kind = classify(options.path)
    if kind == "pack":
        if kept is not None or options.write_checkpoint is not None:
            raise UsageError("--checkpoint and --write-checkpoint apply to a ledger, not a pack")
        report = VerifyReport(kind="pack", path=str(options.path))
        report.packs.append(verify_pack(options.path, trusted))
    else:
        if options.write_checkpoint is not None:
            _outside_the_ledger(options.write_checkpoint, options.path)
        report = verify_ledger(options.path, trusted)
    check_report_inputs(report, options.input_ledger, trusted)
    report.key_id = trusted.keyid if trusted is not None else None
    if trusted is None:
        report.findings += unchecked_signature_warnings(report)
    if kept is not None:
        report.checkpoint = kept.to_json()
        report.findings += checkpoint_findings(report, kept)
    written = None
    if options.write_checkpoint is not None:
        head = head_of(report)
        if report.verified and head is not None:
            write_checkpoint(options.write_checkpoint, head)
            written = options.write_checkpoint
        else:
            report.findings.append(
                Finding(
                    "checkpoint", "warning", "checkpoint not written: the ledger is not verified"
                )
            )
    return VerifyOutcome(report, written)


def unchecked_signature_warnings(report: VerifyReport) -> list[Finding]:
    """Without ``--key``, signatures prove nothing: say so where there are any, and
    point at packs and reviews left unsigned among signed ones (a stripped envelope)."""
    findings = []
    packs = report.packs
    signed = [p for p in packs if p.signature.status != "UNSIGNED"]
    if signed:
        unsigned = [display_name(p.dir_name) for p in packs if p.signature.status == "UNSIGNED"]
        message = (
            f"{len(signed)} of {len(packs)} packs carry a signature that was not checked "
            "(no --key): their authenticity is not proven"
        )
        if unsigned:
            message += f"; unsigned beside them: {', '.join(unsigned)} (a removed signature?)"
        findings.append(Finding("signature", "warning", message))
    reviews = [p for p in packs if p.review.present]
    signed_reviews = [p for p in reviews if p.review.envelope_sha256 is not None]
    if signed_reviews:
        unsigned = [display_name(p.dir_name) for p in reviews if p.review.status == "UNSIGNED"]
        message = (
            f"{len(signed_reviews)} of {len(reviews)} reviews carry a signature that was "
            "not checked (no --key): the reviews are unauthenticated"
        )
        if unsigned:
            message += f"; unsigned reviews beside them: {', '.join(unsigned)}"
        findings.append(Finding("review", "warning", message))
    return findings
