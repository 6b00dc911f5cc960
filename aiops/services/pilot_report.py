"""``aiops pilot report``: the Phase 3 seed's KPIs (§7.2) over a ledger of packs.

KPIs and thresholds (docs/pilot.md, "KPIs"): SoD compliance 100 %, scope compliance
100 %, evidence-pack completeness 100 % (every pack verifies), median operator review
time < 15 min, weekly drift against the day-1 baseline <= 10 %. Beside them: fallback
rate, cost per day and latency p50/p95 per model (services/pilot_usage.py).

Completeness is verify-pack's verdict on the whole ledger (``verify_ledger``): a pack
counts when it verifies (files, schemas, consistency, its review sidecar) and no break
of the hash chain names it; a break that names no pack (a deleted sequence, a fork)
fails the KPI for the ledger as a whole. The review-time KPI counts only reviews that
verify: with a trusted key (``--key``, else the public half of ``AIOPS_SIGNING_KEY``)
only reviews signed by it; without one, reviews that belong to their pack and agree
with their envelope, flagged unauthenticated in the KPI's detail.
"""

from __future__ import annotations

import gc
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiops import __version__
from aiops import clock as wall_clock
from aiops.configuration import load_config
from aiops.errors import PackReadError, UsageError
from aiops.evidence.names import REVIEW_FILE, RUN_MANIFEST_FILE
from aiops.evidence.reader import PackView, load_pack, view_of
from aiops.evidence.sign import TrustedKey, load_public_key, trusted_from_private
from aiops.evidence.verify import ReadPack
from aiops.schemas.pilot import CompletenessBasis, DayFigures, DriftResult, Kpi, PilotReport
from aiops.schemas.review import Review
from aiops.services.governance_reviews import with_governance
from aiops.services.pilot_drift import DRIFT_THRESHOLD_PCT, BaselineComparer
from aiops.services.pilot_kpis import Verification, completeness_kpi, kpi, ratio_kpi
from aiops.services.pilot_reviews import (
    DUE_MODES,
    PilotReviews,
    ReportedPack,
    is_due,
    pilot_reviews,
)
from aiops.services.pilot_served import served_model_changes
from aiops.services.pilot_usage import Usage, answered, is_fallback
from aiops.services.runs import ledger_dir
from aiops.services.verify_cache import CacheUse, verify_ledger_cached
from aiops.settings import Settings

VERIFIER = "verify-pack (files, schemas, consistency, review, hash chain)"
VERIFIER_KEYED = (
    "verify-pack --key {keyid} (files, schemas, consistency, signatures, signed reviews, "
    "hash chain)"
)


@dataclass(frozen=True)
class ReportOptions:
    ledger: Path | None = None  # default: AIOPS_PACKS_DIR or ./evidence_packs
    since: date | None = None
    config_dir: Path | None = None  # default: AIOPS_CONFIG_DIR, ./config, packaged
    key: Path | None = None  # trusted public key; default: AIOPS_SIGNING_KEY's public half
    modes: frozenset[str] = DUE_MODES  # the modes whose packs the KPIs count (live)
    baseline: Path | None = None  # drift baseline; default: the first COMPLETED pack
    use_cache: bool = True  # packs unchanged since verified earlier (verify_cache)


@dataclass(frozen=True)
class _Pack:
    """A pack directory of the ledger: its view, or why the index could not be read;
    and its review as verify-pack read it (``None``: none, or one that does not read)."""

    path: Path
    view: PackView | None
    error: str = ""
    review_doc: Any = None
    review_present: bool = False
    manifest_doc: Any = None  # run_manifest.json as verify-pack read it (verified)

    @property
    def label(self) -> str:
        return self.view.index.evidence_pack_id if self.view else self.path.name


def pilot_report(options: ReportOptions, settings: Settings | None = None) -> PilotReport:
    """The report, built with the cyclic garbage collector paused: a ledger of 10,000
    packs is hundreds of thousands of live objects, none of them in a cycle, which the
    collector would otherwise scan again and again (half the report's time)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _report(options, settings)
    finally:
        if paused:
            gc.enable()


def _report(options: ReportOptions, settings: Settings | None) -> PilotReport:
    """The steps: read and verify the ledger once, choose the packs the KPIs count, the
    drift against the baseline, the KPIs, then the figures beside them."""
    settings = settings or Settings()
    ledger = ledger_dir(options.ledger or settings.packs_dir)
    registry = load_config(options.config_dir or settings.config_dir).registry
    trusted = _trusted(options.key, settings.signing_key)
    verified, every_pack, cache_use = _read_ledger(ledger, trusted, options.use_cache)
    chosen = _Chosen.of(every_pack, options, ledger)
    # The baseline is the pilot's first COMPLETED pack even when --since starts later.
    all_drifts = _drifts(chosen.ledger_views, _baseline(options.baseline))
    in_window = chosen.window_ids
    drifts = [d for d in all_drifts if id(d.view) in in_window]
    reviews = pilot_reviews(chosen.packs, verified.review_counts, _review_of)
    kpis = _kpis(chosen, verified, reviews, all_drifts, options.since)
    usage = Usage.of(chosen.views, registry)
    days = _calendar(chosen.views)
    pack_drift = {id(point.view): point.result.token_drift_pct for point in drifts}
    with_proposer = [v for v in chosen.views if v.proposer is not None]
    fallbacks = sum(1 for v in with_proposer if is_fallback(v))
    return PilotReport(
        ledger=str(ledger),
        since=options.since.isoformat() if options.since else None,
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        packs=len(chosen.packs),
        modes=sorted(options.modes),
        packs_other_modes=len(chosen.dated) - len(chosen.packs),
        baseline_pack_id=all_drifts[0].baseline_id if all_drifts else None,
        verifier=VERIFIER if trusted is None else VERIFIER_KEYED.format(keyid=trusted.keyid),
        completeness_basis=CompletenessBasis(
            packs=cache_use.unchanged + cache_use.verified_now,
            unchanged=cache_use.unchanged,
            verified_now=cache_use.verified_now,
            cache_used=cache_use.enabled,
            statement=cache_use.statement(),
        ),
        kpis=kpis,
        # A KPI with no data yet (a young pilot) is not a failure.
        all_pass=not any(k.status == "FAIL" for k in kpis),
        fallback_packs=fallbacks,
        fallback_rate_pct=_pct(fallbacks, len(with_proposer)),
        cost_total_usd=round(usage.total, 6),
        cost_not_spent_usd=round(usage.not_spent, 6),
        cost_per_day_usd=round(usage.total / len(days), 6) if days else None,
        unpriced_calls=usage.unpriced,
        latency=usage.latency(),
        drift_flagged_days=_flagged_days(drifts),
        served_model_changes=served_model_changes(chosen.views),
        days=_day_figures(days, chosen.views, usage, drifts),
        reviews=reviews.figures(),
        pack_rows=with_governance(
            ledger,
            [
                reviews.row(p, pack_drift.get(id(p.view)), usage.per_pack_cost.get(id(p.view)))
                for p in chosen.packs
            ],
            {p.path.name: p.manifest_doc for p in every_pack if p.manifest_doc is not None},
        ),
        budget_daily_limit_usd=registry.budget.daily_cost_limit_usd,
        budget_monthly_limit_usd=registry.budget.monthly_cost_limit_usd,
        generated_at=wall_clock.isoformat(wall_clock.now()),
        aiops_version=__version__,
    )


@dataclass(frozen=True)
class _Chosen:
    """The packs the KPIs count: of the chosen modes (``ledger_packs``), and of those
    the ones in the window (``packs``); ``dated``: every pack in the window."""

    ledger_packs: list[_Pack]
    dated: list[_Pack]
    packs: list[_Pack]

    @classmethod
    def of(cls, every_pack: list[_Pack], options: ReportOptions, ledger: Path) -> _Chosen:
        ledger_packs = [p for p in every_pack if _of_modes(p, options.modes)]
        dated = [p for p in every_pack if _in_window(p, options.since)]
        packs = [p for p in ledger_packs if _in_window(p, options.since)]
        if not packs:
            since = f" since {options.since.isoformat()}" if options.since else ""
            modes = ", ".join(sorted(options.modes))
            other = f" ({len(dated)} of other modes: choose with --mode)" if dated else ""
            raise PackReadError(f"no {modes} evidence packs in {ledger}{since}{other}")
        return cls(ledger_packs, dated, packs)

    @property
    def views(self) -> list[PackView]:
        return [p.view for p in self.packs if p.view is not None]

    @property
    def ledger_views(self) -> list[PackView]:
        return [p.view for p in self.ledger_packs if p.view is not None]

    @property
    def window_ids(self) -> set[int]:
        return {id(v) for v in self.views}


def _kpis(
    chosen: _Chosen,
    verified: Verification,
    reviews: PilotReviews,
    all_drifts: list[_DriftPoint],
    since: date | None,
) -> list[Kpi]:
    packs = chosen.packs
    return [
        ratio_kpi("sod", "SoD compliance", packs, lambda v: v.index.sod_check.result == "PASS"),
        ratio_kpi(
            "scope",
            "Scope compliance",
            packs,
            lambda v: (
                v.index.capability_scope_check.result == "PASS"
                and not v.index.capability_scope_check.violations
            ),
        ),
        completeness_kpi(packs, chosen.ledger_packs, verified),
        reviews.coverage_kpi(verified.trusted),
        reviews.time_kpi(),
        _weekly_drift(all_drifts, since),
    ]


def _flagged_days(drifts: list[_DriftPoint]) -> list[str]:
    """The days whose drift (that of the day's last pack) is above the threshold."""
    daily = {point.day: point.result.token_drift_pct for point in drifts}
    return sorted(day for day, pct in daily.items() if pct > DRIFT_THRESHOLD_PCT)


def _day_figures(
    days: list[str], views: list[PackView], usage: Usage, drifts: list[_DriftPoint]
) -> list[DayFigures]:
    # A day's drift is that of its last pack (by sequence) against the baseline.
    daily_drift = {point.day: point.result.token_drift_pct for point in drifts}
    counts: dict[str, int] = defaultdict(int)
    for view in views:
        counts[view.day] += 1
    return [
        DayFigures(
            day=day,
            packs=counts.get(day, 0),
            drift_pct=daily_drift.get(day),
            cost_usd=round(usage.per_day_cost[day], 6) if day in usage.per_day_cost else None,
            latency_ms={
                model: round(statistics.fmean(values), 1)
                for model, values in sorted(usage.per_day_latency.get(day, {}).items())
            },
        )
        for day in days
    ]


def _read_ledger(
    ledger: Path, trusted: TrustedKey | None, use_cache: bool = True
) -> tuple[Verification, list[_Pack], CacheUse]:
    """verify-pack over the ledger, and each pack's view from what it read: every file
    is read and checked once (a pack unchanged since it verified earlier is taken from
    the per-user cache unless ``use_cache`` is off: ``verify_cache``). A pack whose index
    does not read has no view (it fails every KPI); an entry without an index is no
    pack (the ledger's problem)."""
    read: dict[str, ReadPack] = {}

    def seen(pack: ReadPack) -> None:
        read[pack.dir_name] = pack

    report, cache_use = verify_ledger_cached(ledger, trusted, seen, use_cache)
    packs: list[_Pack] = []
    for pack in report.packs:
        path = ledger / pack.dir_name
        found = read.get(pack.dir_name)
        if found is None:
            if pack.files and pack.files[0].status != "MISSING":
                errors = [f.message for f in pack.errors] or ["its index does not read"]
                packs.append(_Pack(path, None, f"{path}: {errors[0]}"))
            continue
        try:
            view = view_of(path, found)
            date.fromisoformat(view.day)  # every figure is kept by day
        except PackReadError as exc:
            packs.append(_Pack(path, None, str(exc)))
        except ValueError:
            packs.append(_Pack(path, None, f"{path}: creation_timestamp is not a date"))
        else:
            review = found.sidecars.get(REVIEW_FILE)
            manifest = found.docs.get(RUN_MANIFEST_FILE)
            packs.append(_Pack(path, view, "", review, pack.review.present, manifest))
    packs.sort(key=lambda p: (p.view.index.sequence if p.view else 0, p.path.name))
    return Verification(report, trusted), packs, cache_use


def _review_of(pack: ReportedPack) -> Review | None:
    """The pack's review as verify-pack read it; ``ValueError`` when it is no review."""
    assert isinstance(pack, _Pack)
    if pack.review_doc is None:
        if pack.review_present:
            raise ValueError(f"{REVIEW_FILE} is not a valid review")
        return None
    return Review.model_validate(pack.review_doc)


def _of_modes(pack: _Pack, modes: frozenset[str]) -> bool:
    """A pack whose index cannot be read has no mode: it is never filtered out."""
    return pack.view is None or is_due(pack.view.index.mode, modes)


def _in_window(pack: _Pack, since: date | None) -> bool:
    """A pack whose index cannot be read has no date: it is never filtered out."""
    return since is None or pack.view is None or pack.view.day >= since.isoformat()


def _calendar(views: list[PackView]) -> list[str]:
    if not views:
        return []
    first = date.fromisoformat(min(v.day for v in views))
    last = date.fromisoformat(max(v.day for v in views))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class _DriftPoint:
    view: PackView
    result: DriftResult
    baseline_day: str

    @property
    def day(self) -> str:
        return self.view.day

    @property
    def baseline_id(self) -> str:
        return self.result.baseline_pack_id


def _baseline(path: Path | None) -> PackView | None:
    """``--baseline PACK``: a COMPLETED pack whose proposer answered."""
    if path is None:
        return None
    view = load_pack(path)
    if view.index.status != "COMPLETED" or not answered(view.proposer):
        raise UsageError(
            f"--baseline {path}: a {view.index.status} pack is never a drift baseline "
            "(choose a COMPLETED pack whose proposer answered)"
        )
    return view


def _drifts(views: list[PackView], chosen: PackView | None = None) -> list[_DriftPoint]:
    """Every pack with an output, of the baseline's layer and prompt, against the
    baseline: ``chosen``, else the first COMPLETED pack (by sequence) whose proposer
    answered. A FAILED or BLOCKED pack is never the baseline; a pack without an answer
    (an outage) is not compared."""
    candidates = [v for v in views if v.index.status != "FAILED" and answered(v.proposer)]
    baseline = chosen or next((v for v in candidates if v.index.status == "COMPLETED"), None)
    if baseline is None:
        return []
    comparer = BaselineComparer(baseline)
    return [
        _DriftPoint(v, comparer.compare(v), baseline.day)
        for v in candidates
        if v.index.layer_id == baseline.index.layer_id
        and v.prompt_key == baseline.prompt_key
        and v.day >= baseline.day
    ]


def _weekly_drift(drifts: list[_DriftPoint], since: date | None) -> Kpi:
    """Weekly checks: the first pack on or after baseline day + 7k, within that week;
    with ``since``, only the checks that fall in the window."""
    threshold = (float(DRIFT_THRESHOLD_PCT), "at most")
    if not drifts:
        return kpi("drift", "Weekly drift", None, "%", threshold, "NO DATA", "no proposer output")
    start = date.fromisoformat(drifts[0].baseline_day)
    checks: dict[int, _DriftPoint] = {}
    for point in drifts:
        week = (date.fromisoformat(point.day) - start).days // 7
        if week >= 1 and week not in checks:
            checks[week] = point
    if since is not None:
        checks = {w: p for w, p in checks.items() if p.day >= since.isoformat()}
    if not checks:
        return kpi(
            "drift", "Weekly drift", None, "%", threshold, "NO DATA", "pilot shorter than 8 days"
        )
    worst = max(p.result.token_drift_pct for p in checks.values())
    flagged = [p.view.index.evidence_pack_id for p in checks.values() if p.result.flagged]
    detail = "; ".join(
        f"week {w}: {p.result.token_drift_pct:.2f} % ({p.day})" for w, p in sorted(checks.items())
    )
    status = "FAIL" if flagged else "PASS"
    return kpi("drift", "Weekly drift", round(worst, 2), "%", threshold, status, detail, flagged)


def _trusted(key: Path | None, signing_key: Path | None) -> TrustedKey | None:
    if key is not None:
        return load_public_key(key)
    return trusted_from_private(signing_key) if signing_key is not None else None


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
