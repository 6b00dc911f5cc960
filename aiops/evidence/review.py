"""``review.json`` beside a pack: write it once, atomically; check it names its pack.

``check_review`` is the check verify-pack runs: a review must parse, and its pack id,
run id and the SHA-256 of ``evidence_pack.json`` must be those of the pack it sits beside.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import ValidationError

from aiops.canonical import pack_json, sha256_hex
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.schemas.pack import EVIDENCE_PACK_FILE
from aiops.schemas.review import REVIEW_FILE, Review


def read_review(pack_dir: Path) -> Review | None:
    """The pack's review, or ``None`` when there is none. Raises ``ValueError`` (with a
    one-line reason) when the file exists but is not a valid review."""
    path = pack_dir / REVIEW_FILE
    if not path.is_file():
        return None
    try:
        return Review.model_validate(json.loads(path.read_bytes()))
    except (ValueError, UnicodeDecodeError) as exc:
        reason = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ValueError(f"{REVIEW_FILE} is not a valid review: {reason}") from None


def check_review(pack_dir: Path) -> list[str]:
    """Problems with the review beside ``pack_dir`` (empty: none, or no review at all)."""
    try:
        review = read_review(pack_dir)
    except ValueError as exc:
        return [str(exc)]
    if review is None:
        return []
    index_path = pack_dir / EVIDENCE_PACK_FILE
    try:
        raw = index_path.read_bytes()
        index = json.loads(raw)
    except (OSError, ValueError) as exc:
        return [f"{REVIEW_FILE}: cannot read {EVIDENCE_PACK_FILE}: {exc}"]
    problems: list[str] = []
    actual = sha256_hex(raw)
    if review.evidence_pack_sha256 != actual:
        problems.append(
            f"{REVIEW_FILE}: evidence_pack_sha256 {review.evidence_pack_sha256} does not match "
            f"{EVIDENCE_PACK_FILE} ({actual})"
        )
    for field in ("evidence_pack_id", "run_id"):
        recorded = getattr(review, field)
        expected = index.get(field) if isinstance(index, dict) else None
        if recorded != expected:
            problems.append(f"{REVIEW_FILE}: {field} {recorded!r} is not this pack's {expected!r}")
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
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(staging, target)
        dir_fd = os.open(pack_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except FileExistsError:
        raise OutputExistsError(f"{target} exists; a review is never overwritten") from None
    except OSError as exc:
        raise EvidenceWriteError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        staging.unlink(missing_ok=True)
    return target


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{where}: {error['msg']}"
