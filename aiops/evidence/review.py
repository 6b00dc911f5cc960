"""``review.json`` beside a pack: write it once, atomically; check it names its pack.

``check_review`` is the check verify-pack runs on the sidecar it has already read with
its strict JSON reader and shape-checked against the published ``review`` schema: the
review's pack id, run id and the SHA-256 of ``evidence_pack.json`` must be those of the
pack it sits beside, and it must not end before it starts. This module imports no
Pydantic at load time (verify-pack's start-up stays light); reading a review into the
``Review`` model (``read_review``) imports it when called.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import pack_json
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.evidence.durable import discard, fsync_dir, write_all
from aiops.evidence.names import EVIDENCE_PACK_FILE, REVIEW_FILE

if TYPE_CHECKING:
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


def write_review(pack_dir: Path, review: Review) -> Path:
    """Write ``review.json`` atomically and only if none exists.

    The bytes are staged in a hidden file in the ledger (the pack's parent, same file
    system), fsynced, then hard-linked into the pack: the link fails if a review already
    exists, so two reviewers racing cannot overwrite each other."""
    target = pack_dir / REVIEW_FILE
    if target.exists():
        raise OutputExistsError(f"{target} exists; a review is never overwritten")
    staging = pack_dir.parent / f".tmp-review-{os.getpid()}-{secrets.token_hex(4)}"
    data = pack_json(review.model_dump(mode="json"))
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
    return target


def _first_error(exc: Any) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{where}: {error['msg']}"
