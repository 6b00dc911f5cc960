"""``review.json`` beside a pack: write it once, atomically; check it names its pack.

``check_review`` is the check verify-pack runs on the sidecar it has already read with
its strict JSON reader and shape-checked against the published ``review`` schema: the
review's pack id, run id and the SHA-256 of ``evidence_pack.json`` must be those of the
pack it sits beside, and it must not end before it starts. With a signing key the
review is signed like a pack (``review.dsse.json``, ``aiops.evidence.sign``);
``review_result`` says what the two files prove, with or without the trusted key.
This module imports no Pydantic at load time (verify-pack's start-up stays light);
reading a review into the ``Review`` model (``read_review``) imports it when called.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import pack_json, sha256_hex
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.evidence.durable import discard, fsync_dir, write_all
from aiops.evidence.findings import NO_REVIEW, ReviewResult, ReviewStatus
from aiops.evidence.names import EVIDENCE_PACK_FILE, REVIEW_ENVELOPE_FILE, REVIEW_FILE
from aiops.evidence.sign import TrustedKey, check_review_envelope

if TYPE_CHECKING:
    from aiops.evidence.sign import ReviewSigner
    from aiops.schemas.review import Review


def read_review(pack_dir: Path) -> Review | None:
    """The pack's review, or ``None`` when there is none. Raises ``ValueError`` (with a
    one-line reason) when the file exists but is not a valid review."""
    from pydantic import ValidationError

    from aiops.evidence.shape import shape_errors
    from aiops.evidence.strict import MAX_SIDECAR_BYTES, loads_strict, read_file_in
    from aiops.schemas.catalog import schema_for_file
    from aiops.schemas.review import Review

    read = read_file_in(pack_dir, REVIEW_FILE, max_bytes=MAX_SIDECAR_BYTES)
    if read.status == "MISSING":
        return None
    if read.status is not None or read.data is None:
        raise ValueError(f"{REVIEW_FILE} is not a valid review: {read.detail}")
    try:
        doc = loads_strict(read.data)
        errors = shape_errors(doc, schema_for_file(REVIEW_FILE) or {})  # as verify-pack
        if errors:
            raise ValueError(errors[0])
        return Review.model_validate(doc)
    except ValueError as exc:  # StrictJSONError, a shape error or ValidationError
        reason = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ValueError(f"{REVIEW_FILE} is not a valid review: {reason}") from None


def check_review(review: dict[str, Any], index: dict[str, Any], index_sha256: str) -> list[str]:
    """Why ``review`` (a shape-checked ``review.json``) does not belong to the pack whose
    ``evidence_pack.json`` is ``index`` with SHA-256 ``index_sha256``; empty when it does."""
    problems: list[str] = []
    recorded = review.get("evidence_pack_sha256")
    if recorded != index_sha256:
        problems.append(
            f"{REVIEW_FILE}: evidence_pack_sha256 {recorded} does not match "
            f"{EVIDENCE_PACK_FILE} ({index_sha256}): the review is of another pack or of "
            "an earlier version of this one"
        )
    for field in ("evidence_pack_id", "run_id"):
        if review.get(field) != index.get(field):
            problems.append(
                f"{REVIEW_FILE}: {field} {review.get(field)!r} is not this pack's "
                f"{index.get(field)!r}"
            )
    try:
        started = datetime.fromisoformat(str(review.get("review_started_at")))
        ended = datetime.fromisoformat(str(review.get("review_ended_at")))
    except ValueError:
        problems.append(f"{REVIEW_FILE}: review_started_at or review_ended_at is not a date")
    else:
        if ended < started:
            problems.append(f"{REVIEW_FILE}: review_ended_at is before review_started_at")
    return problems


@dataclass(frozen=True)
class ReviewFiles:
    """The review sidecars as verify-pack read them: each parsed document (``None``
    when absent or unreadable, already reported) and its bytes."""

    present: frozenset[str]
    review: Any = None
    review_bytes: bytes | None = None
    envelope: Any = None
    envelope_bytes: bytes | None = None


def review_result(
    files: ReviewFiles, index: dict[str, Any], index_sha256: str, trusted: TrustedKey | None
) -> tuple[ReviewResult, list[str]]:
    """What the review beside a pack proves, and every problem with it (errors)."""
    if REVIEW_FILE not in files.present:
        # An envelope alone is what a signed review killed between its two writes leaves
        # (the envelope goes first). It is no review: nothing counts it, and a deleted
        # review.json is caught by a checkpoint as any deleted review is. The caller
        # warns (orphan_envelope_warning).
        return NO_REVIEW, []
    review, data = files.review, files.review_bytes
    if not isinstance(review, dict) or data is None:
        return ReviewResult("INVALID", f"{REVIEW_FILE} cannot be read"), []
    facts = {
        "decision": review.get("decision"),
        "review_sha256": sha256_hex(data),
        "envelope_sha256": sha256_hex(files.envelope_bytes) if files.envelope_bytes else None,
    }
    problems = check_review(review, index, index_sha256)
    if REVIEW_ENVELOPE_FILE not in files.present:
        if trusted is not None:
            problems.append(
                f"{REVIEW_FILE} is not signed ({REVIEW_ENVELOPE_FILE} is missing) "
                "and --key was given: an unsigned review is not accepted"
            )
            return ReviewResult("MISSING", "not signed; --key was given", **facts), problems
        status: ReviewStatus = "INVALID" if problems else "UNSIGNED"
        return ReviewResult(status, "unauthenticated: not signed", **facts), problems
    if files.envelope is None:
        return ReviewResult("INVALID", f"{REVIEW_ENVELOPE_FILE} cannot be read", **facts), problems
    checked = check_review_envelope(files.envelope, data, index_sha256, trusted)
    problems += [f"{REVIEW_ENVELOPE_FILE}: {problem}" for problem in checked.problems]
    keyid = checked.keyids[0] if checked.keyids else None
    if trusted is None:
        detail = "unauthenticated: signed, not checked (no --key)"
        status = "INVALID" if problems else "NOT_CHECKED"
        return ReviewResult(status, detail, keyid, **facts), problems
    if checked.signed_by is None:
        keyids = ", ".join(checked.keyids) or "none"
        problems.append(
            f"{REVIEW_ENVELOPE_FILE}: the review is not signed by the trusted key "
            f"{trusted.keyid} (envelope key ids: {keyids})"
        )
        return ReviewResult("INVALID", "not signed by the trusted key", keyid, **facts), problems
    if problems:
        detail = "signed by the trusted key, but the signed review differs from review.json"
        return ReviewResult("INVALID", detail, trusted.keyid, **facts), problems
    return ReviewResult("VALID", "signed by the trusted key", trusted.keyid, **facts), []


def orphan_envelope_warning(present: frozenset[str]) -> str | None:
    """The warning for a review envelope without its ``review.json``, if there is one."""
    if REVIEW_ENVELOPE_FILE not in present or REVIEW_FILE in present:
        return None
    return (
        f"{REVIEW_ENVELOPE_FILE} without {REVIEW_FILE}: a signed review that was interrupted "
        f"(or whose {REVIEW_FILE} was removed); it counts as no review. Remove "
        f"{REVIEW_ENVELOPE_FILE} and review the pack again"
    )


def write_review(pack_dir: Path, review: Review, sign: ReviewSigner | None = None) -> Path:
    """Write ``review.json`` atomically and only if no review exists; with ``sign``,
    its signature envelope ``review.dsse.json`` first.

    Each file is staged in a hidden file in the ledger (the pack's parent, same file
    system), fsynced, then hard-linked into the pack: the link fails if the file
    already exists, so two reviewers racing cannot overwrite each other. The envelope
    goes first, so ``review.json`` is never seen without the signature it was given;
    an interrupted write leaves at most an envelope without a review, which
    verify-pack reports and no KPI counts."""
    target = pack_dir / REVIEW_FILE
    for name in (REVIEW_FILE, REVIEW_ENVELOPE_FILE):
        if (pack_dir / name).exists():
            raise OutputExistsError(f"{pack_dir / name} exists; a review is never overwritten")
    data = pack_json(review.model_dump(mode="json", exclude_none=True))
    if sign is not None:
        _link_new(pack_dir, REVIEW_ENVELOPE_FILE, sign(data))
    try:
        _link_new(pack_dir, REVIEW_FILE, data)
    except BaseException:
        if sign is not None:
            discard(pack_dir / REVIEW_ENVELOPE_FILE)  # ours: the link above created it
        raise
    return target


def _link_new(pack_dir: Path, name: str, data: bytes) -> None:
    target = pack_dir / name
    staging = pack_dir.parent / f".tmp-review-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(staging, target)
        fsync_dir(pack_dir)
    except FileExistsError:
        raise OutputExistsError(f"{target} exists; a review is never overwritten") from None
    except OSError as exc:
        raise EvidenceWriteError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        discard(staging)


def _first_error(exc: Any) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{where}: {error['msg']}"
