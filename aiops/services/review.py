"""Operator review of a pack: show it, take a decision, record ``review.json`` beside it.

With a signing key (``AIOPS_SIGNING_KEY``) the review is signed like a pack: a DSSE
envelope ``review.dsse.json`` beside ``review.json`` binds the decision, reviewer,
notes, times and the reviewed ``evidence_pack.json`` hash to the key.

The review time is a pilot KPI, so the clock is injectable. ``review_started_at`` is the
wall clock (``SOURCE_DATE_EPOCH`` when set, so test packs stay reproducible) and
``review_ended_at`` is that plus the elapsed *monotonic* time, rounded to whole seconds:
the duration is always real, even under a pinned wall clock or an NTP step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiops import clock as wall_clock
from aiops.canonical import require_utf8, sha256_hex
from aiops.errors import OutputExistsError, PackReadError, UsageError
from aiops.evidence.l2_content import L2Content, read_l2_content
from aiops.evidence.names import EVIDENCE_PACK_FILE, REVIEW_ENVELOPE_FILE, REVIEW_FILE
from aiops.evidence.reader import PackView, load_pack
from aiops.evidence.review import write_review
from aiops.evidence.sign import ReviewSigner, review_signer_from_settings
from aiops.evidence.strict import MAX_INDEX_BYTES, read_file_in
from aiops.evidence.verify import verify_pack
from aiops.schemas.review import Decision, Review


@dataclass(frozen=True)
class ReviewClock:
    wall: Callable[[], datetime] = wall_clock.now
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class ReviewSession:
    """A pack opened for review; the timer runs from ``start_review``."""

    view: PackView
    content: L2Content
    integrity_problems: list[str]
    started_at: datetime
    started_monotonic: float
    clock: ReviewClock = field(default_factory=ReviewClock)
    sign: ReviewSigner | None = None  # from AIOPS_SIGNING_KEY; None: unsigned


@dataclass(frozen=True)
class RecordedReview:
    review: Review
    path: Path
    signed: bool = False


def default_reviewer(explicit: str | None) -> str:
    name = explicit if explicit is not None else os.environ.get("USER") or os.environ.get("LOGNAME")
    if not name or not name.strip():
        raise UsageError("no reviewer name: pass --reviewer NAME (or set USER)")
    return require_utf8(name.strip(), "the reviewer name (--reviewer or $USER)")


def start_review(
    pack_dir: Path, clock: ReviewClock | None = None, signing_key: Path | None = None
) -> ReviewSession:
    """Open ``pack_dir`` for review; with ``signing_key`` the review will be signed (a
    bad key fails here, before the pack is shown)."""
    clock = clock or ReviewClock()
    sign = review_signer_from_settings(signing_key)
    for name in (REVIEW_FILE, REVIEW_ENVELOPE_FILE):
        try:
            reviewed = (pack_dir / name).exists()
        except OSError as exc:  # a name too long, a directory we may not enter
            raise PackReadError(f"{pack_dir}: {exc.strerror}") from None
        if reviewed:
            raise OutputExistsError(f"{pack_dir / name} exists; a review is never overwritten")
    view = load_pack(pack_dir)
    parsed = view.proposer.get("parsed") if view.proposer else None
    return ReviewSession(
        view=view,
        content=read_l2_content(parsed),
        integrity_problems=integrity_problems(pack_dir),
        started_at=clock.wall(),
        started_monotonic=clock.monotonic(),
        clock=clock,
        sign=sign,
    )


def integrity_problems(pack_dir: Path) -> list[str]:
    """What ``verify-pack`` finds wrong with the pack, one line each (empty: verified).
    The operator sees them as warnings before deciding; the chain is checked by
    ``verify-pack`` on the ledger and by the pilot report, not per review."""
    report = verify_pack(pack_dir)
    lines = [
        f"verify-pack: {f.name} {f.status}" + (f" ({f.detail})" if f.detail else "")
        for f in report.failed_files
    ]
    lines += [
        f"verify-pack: {f.check}: {f.message}"
        for f in report.findings
        if f.severity in ("error", "warning")
    ]
    return lines


def finish_review(
    session: ReviewSession,
    decision: Decision,
    notes: str,
    reviewer: str,
    interactive: bool | None = None,
) -> RecordedReview:
    require_utf8(notes, "the review notes")
    elapsed = max(0.0, session.clock.monotonic() - session.started_monotonic)
    ended_at = session.started_at + timedelta(seconds=round(elapsed))
    pack_dir = session.view.path
    # Read as the pack was: a link, FIFO or oversized file in its place is not the pack
    # that was shown (and is never waited on).
    read = read_file_in(pack_dir, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
    current = sha256_hex(read.data) if read.status is None and read.data is not None else None
    if current != session.view.index_sha256:
        raise PackReadError(f"{pack_dir / EVIDENCE_PACK_FILE} changed during the review")
    review = Review(
        evidence_pack_id=session.view.index.evidence_pack_id,
        run_id=session.view.index.run_id,
        evidence_pack_sha256=session.view.index_sha256,
        reviewer=reviewer,
        decision=decision,
        notes=notes,
        review_started_at=wall_clock.isoformat(session.started_at),
        review_ended_at=wall_clock.isoformat(ended_at),
        interactive=interactive,
    )
    path = write_review(pack_dir, review, session.sign)
    return RecordedReview(review=review, path=path, signed=session.sign is not None)
