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
from aiops.evidence.ledger import pack_dirs
from aiops.evidence.names import EVIDENCE_PACK_FILE, REVIEW_ENVELOPE_FILE, REVIEW_FILE
from aiops.evidence.reader import PackView, load_pack
from aiops.evidence.review import write_review
from aiops.evidence.sign import ReviewSigner, review_signer_from_settings
from aiops.evidence.strict import (
    MAX_INDEX_BYTES,
    StrictJSONError,
    loads_strict,
    read_file_in,
)
from aiops.schemas.review import Decision, Review
from aiops.services.pilot_reviews import is_due
from aiops.services.review_screen import ReviewScreen, review_screen
from aiops.services.runs import ledger_dir


@dataclass(frozen=True)
class ReviewClock:
    wall: Callable[[], datetime] = wall_clock.now
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class ReviewSession:
    """A pack opened for review; the timer runs from ``start_review``."""

    view: PackView
    screen: ReviewScreen
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
    screen = review_screen(view)  # verify-pack's verdict included
    # The timer starts when everything to show is ready: the screen is printed next.
    return ReviewSession(
        view=view,
        screen=screen,
        started_at=clock.wall(),
        started_monotonic=clock.monotonic(),
        clock=clock,
        sign=sign,
    )


def next_due(ledger: Path) -> Path:
    """The newest pack of ``ledger`` (by sequence) that is due for review (as the pilot
    report's coverage KPI counts: ``pilot_reviews.is_due``) and has no review yet.
    None: ``NothingToReview``."""
    ledger_dir(ledger)
    best: tuple[int, str, Path] | None = None
    for path in pack_dirs(ledger):
        if _has_review(path):
            continue  # a review is never overwritten
        read = read_file_in(path, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
        if read.status is not None or read.data is None:
            continue  # not a pack that reads: verify-pack reports it
        try:
            doc = loads_strict(read.data)
        except StrictJSONError:
            continue
        sequence = doc.get("sequence") if isinstance(doc, dict) else None
        if type(sequence) is not int or not is_due(doc.get("mode")):
            continue
        if best is None or (sequence, path.name) > best[:2]:
            best = (sequence, path.name, path)
    if best is None:
        raise NothingToReview(
            f"nothing to review: every live pack in {ledger} has a review (name a pack to "
            "review another)"
        )
    return best[2]


def _has_review(path: Path) -> bool:
    try:
        return any((path / name).exists() for name in (REVIEW_FILE, REVIEW_ENVELOPE_FILE))
    except OSError:  # a directory we may not enter: nothing we could review
        return True


class NothingToReview(Exception):
    """No pack is due for review: an outcome (exit 1), not an error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
