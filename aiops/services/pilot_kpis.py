"""The pilot's compliance KPIs and their building blocks: ratio KPIs (SoD, scope),
evidence-pack completeness from verify-pack's report on the ledger, and the lookup of
that report per pack (does the pack verify, does its review count)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from aiops.evidence.findings import PackReport, VerifyReport
from aiops.evidence.sign import TrustedKey
from aiops.schemas.pilot import Kpi
from aiops.services.pilot_facts import PackFacts
from aiops.services.pilot_reviews import ReportedPack


def ratio_kpi(
    key: str, name: str, packs: Sequence[ReportedPack], compliant: Callable[[PackFacts], bool]
) -> Kpi:
    failing = [p.label for p in packs if p.facts is None or not compliant(p.facts)]
    good = len(packs) - len(failing)
    return kpi(
        key,
        name,
        round(100.0 * good / len(packs), 2),
        "%",
        ALL,
        "PASS" if not failing else "FAIL",
        f"{good}/{len(packs)} packs",
        failing,
    )


class Verification:
    """verify-pack's report on the ledger, looked up per pack directory."""

    def __init__(self, report: VerifyReport, trusted: TrustedKey | None = None) -> None:
        self.report = report
        self.trusted = trusted
        self._packs: dict[str, list[PackReport]] = defaultdict(list)
        for pack in report.packs:
            self._packs[pack.dir_name].append(pack)
        self._named: set[str] = {
            f.pack for f in report.findings if f.severity == "error" and f.pack is not None
        }

    def pack_ok(self, pack: ReportedPack) -> bool:
        own = self._packs.get(pack.path.name, [])
        return bool(own) and all(p.verified for p in own) and pack.path.name not in self._named

    def review_counts(self, pack: ReportedPack) -> bool:
        """The pack's review verifies: signed by the trusted key when there is one;
        without, it belongs to its pack and agrees with its envelope (unauthenticated)."""
        own = self._packs.get(pack.path.name, [])
        accepted = ("VALID",) if self.trusted is not None else ("UNSIGNED", "NOT_CHECKED")
        return bool(own) and all(
            p.review.status in accepted and not [f for f in p.errors if f.check == "review"]
            for p in own
        )

    def ledger_problems(self, ledger_packs: Sequence[ReportedPack]) -> list[str]:
        """Errors of the ledger that no pack answers for: a break of the chain that
        names no pack, or an entry of the ledger that is not a pack."""
        names = {p.path.name for p in ledger_packs}
        problems = [
            f.message
            for f in self.report.findings
            if f.severity == "error" and (f.pack is None or f.pack not in names)
        ]
        problems += [
            f"{p.dir_name}: not a pack that verifies"
            for p in self.report.packs
            if p.dir_name not in names and not p.verified
        ]
        return problems


def completeness_kpi(
    packs: Sequence[ReportedPack], ledger_packs: Sequence[ReportedPack], verified: Verification
) -> Kpi:
    failing = [p.label for p in packs if p.facts is None or not verified.pack_ok(p)]
    ledger = verified.ledger_problems(ledger_packs)
    good = len(packs) - len(failing)
    detail = f"{good}/{len(packs)} packs verify"
    detail += f"; ledger: {'; '.join(ledger)}" if ledger else ""
    return kpi(
        "completeness",
        "Evidence-pack completeness",
        round(100.0 * good / len(packs), 2),
        "%",
        ALL,
        "PASS" if not failing and not ledger else "FAIL",
        detail,
        failing,
    )


ALL = (100.0, "at least")  # a ratio KPI passes at 100 %


def kpi(
    key: str,
    name: str,
    value: float | None,
    unit: str,
    threshold: tuple[float, str],
    status: str,
    detail: str,
    failing: list[str] | None = None,
) -> Kpi:
    """A KPI whose value and threshold are numbers (JSON), shown with their unit."""
    return Kpi(
        key=key,
        name=name,
        value=value,
        unit=unit,  # type: ignore[arg-type]
        threshold=threshold[0],
        comparison=threshold[1],  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        detail=detail,
        failing_packs=failing or [],
    )
