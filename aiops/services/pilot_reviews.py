"""The pilot's review KPIs: coverage and median on-screen time.

* Coverage: the packs with a review that verifies, over the packs due for review (every
  pack of the report's window and modes: by default every ``live`` pack, ``is_due``;
  ``aiops review`` with no pack takes the newest of them without a review). Threshold:
  100 %.
* Review time: the median time a pack was on screen before the decision, over the
  *interactive* reviews only (``review.json`` ``interactive: true``, decided at the
  prompt). A review decided on the command line (``--approve``/``--reject``, no
  terminal) records no on-screen time: it is counted and shown apart, never as a
  0-minute review; so is a review written before aiops recorded which kind it was.
  Threshold: below 15 min. No interactive review yet is no data, not a failure.

A review counts only when it verifies (``pilot_report._Verification.review_counts``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiops.evidence.sign import TrustedKey
from aiops.schemas.pilot import Kpi, KpiStatus, PackRow, ReviewFigures

if TYPE_CHECKING:
    from aiops.services.pilot_facts import PackFacts, ReviewFacts

REVIEW_LIMIT_MIN = 15.0
# The pilot's days are live runs: what the KPIs count by default (``--mode``), and the
# packs due for review.
DUE_MODES = frozenset({"live"})


def is_due(mode: object, modes: frozenset[str] = DUE_MODES) -> bool:
    """A pack of this mode is due for review (and counted by the pilot's KPIs)."""
    return isinstance(mode, str) and mode in modes


class ReportedPack(Protocol):
    @property
    def path(self) -> Path: ...

    @property
    def facts(self) -> PackFacts | None: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class _Reviewed:
    pack: ReportedPack
    review: ReviewFacts | None  # None: no review, or one that does not verify
    invalid: bool = False


class PilotReviews:
    def __init__(self, reviewed: list[_Reviewed]) -> None:
        self._reviewed = reviewed
        self._by_path = {id(r.pack): r for r in reviewed}
        self.counted = [r for r in reviewed if r.review is not None]
        self.invalid = sum(1 for r in reviewed if r.invalid)

    def figures(self) -> ReviewFigures:
        reviews = [r.review for r in self.counted if r.review is not None]
        return ReviewFigures(
            due=len(self._reviewed),
            reviewed=len(reviews),
            approved=sum(1 for r in reviews if r.decision == "APPROVE"),
            rejected=sum(1 for r in reviews if r.decision == "REJECT"),
            interactive=sum(1 for r in reviews if r.interactive is True),
            non_interactive=sum(1 for r in reviews if r.interactive is False),
            unknown=sum(1 for r in reviews if r.interactive is None),
        )

    def coverage_kpi(self, trusted: TrustedKey | None) -> Kpi:
        due, done = len(self._reviewed), len(self.counted)
        missing = [r.pack.label for r in self._reviewed if r.review is None]
        detail = f"{done}/{due} packs reviewed"
        detail += f"; {self.invalid} invalid (not counted)" if self.invalid else ""
        if self.counted:
            detail += (
                "; unauthenticated (no key: review signatures not checked)"
                if trusted is None
                else f"; each signed by the trusted key {trusted.keyid[:16]}"
            )
        return Kpi(
            key="review_coverage",
            name="Review coverage",
            value=round(100.0 * done / due, 2) if due else None,
            unit="%",
            threshold=100.0,
            comparison="at least",
            status="NO DATA" if not due else "PASS" if not missing else "FAIL",
            detail=detail,
            failing_packs=missing,
        )

    def time_kpi(self) -> Kpi:
        figures = self.figures()
        timed = [
            (r.pack.label, r.review.duration_seconds / 60.0)
            for r in self.counted
            if r.review is not None and r.review.interactive is True
        ]
        slow = [label for label, minutes in timed if minutes >= REVIEW_LIMIT_MIN]
        detail = f"{len(timed)} interactive reviews timed"
        if figures.non_interactive:
            detail += f"; {figures.non_interactive} made without a terminal (not timed)"
        if figures.unknown:
            detail += f"; {figures.unknown} not recorded as interactive (not timed)"
        detail += f"; {len(slow)} over {REVIEW_LIMIT_MIN:g} min: {', '.join(slow)}" if slow else ""
        median = round(statistics.median(m for _, m in timed), 2) if timed else None
        status: KpiStatus = (
            "NO DATA" if median is None else "PASS" if median < REVIEW_LIMIT_MIN else "FAIL"
        )
        return Kpi(
            key="review_time",
            name="Median review time",
            value=median,
            unit="min",
            threshold=REVIEW_LIMIT_MIN,
            comparison="below",
            status=status,
            detail=detail,
            failing_packs=[],
        )

    def row(self, pack: ReportedPack, drift: float | None, cost: float | None) -> PackRow:
        facts = pack.facts
        found = self._by_path.get(id(pack))
        review = found.review if found is not None else None
        spends = facts is not None and facts.mode in ("live", "record")
        return PackRow(
            sequence=facts.sequence if facts else None,
            pack_id=pack.label,
            dir_name=pack.path.name,
            day=facts.day if facts else None,
            mode=facts.mode if facts else None,
            status=facts.status if facts else None,
            # The decision as judged (null when it failed closed), not the critic's words.
            critic_decision=facts.critic_decision if facts else None,
            reviewed=review is not None,
            reviewer=review.reviewer if review else None,
            review_decision=review.decision if review else None,
            interactive=review.interactive if review else None,
            drift_pct=drift,
            cost_usd=round(cost or 0.0, 6) if spends else None,
        )


def pilot_reviews(
    packs: Sequence[ReportedPack], counts: Callable[[ReportedPack], bool]
) -> PilotReviews:
    """Each pack's review as verify-pack read it (``PackFacts.review``), kept only when
    ``counts`` says it verifies; one that is no valid review is counted as invalid."""
    reviewed: list[_Reviewed] = []
    for pack in packs:
        facts = pack.facts
        if facts is None:
            reviewed.append(_Reviewed(pack, None))
        elif facts.review_invalid or (facts.review is not None and not counts(pack)):
            reviewed.append(_Reviewed(pack, None, invalid=True))
        else:
            reviewed.append(_Reviewed(pack, facts.review))
    return PilotReviews(reviewed)
