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

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from aiops import __version__
from aiops import clock as wall_clock
from aiops.configuration import load_config
from aiops.errors import PackReadError, UsageError
from aiops.evidence.chain import verify_ledger
from aiops.evidence.findings import PackReport, VerifyReport
from aiops.evidence.ledger import pack_dirs
from aiops.evidence.reader import PackView, load_pack
from aiops.evidence.sign import TrustedKey, load_public_key, trusted_from_private
from aiops.schemas.pilot import DayFigures, DriftResult, Kpi, ModelLatency, PilotReport
from aiops.schemas.registry import Registry
from aiops.services.pilot_drift import DRIFT_THRESHOLD_PCT, BaselineComparer
from aiops.services.pilot_reviews import DUE_MODES, ReportedPack, is_due, pilot_reviews
from aiops.services.pilot_served import served_model_changes
from aiops.services.pilot_usage import answered, calls, is_fallback, percentile
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


SPENDING_MODES = frozenset({"live", "record"})  # the modes that call the providers


@dataclass(frozen=True)
class _Pack:
    """A pack directory of the ledger: its view, or why the index could not be read."""

    path: Path
    view: PackView | None
    error: str = ""

    @property
    def label(self) -> str:
        return self.view.index.evidence_pack_id if self.view else self.path.name


def pilot_report(options: ReportOptions, settings: Settings | None = None) -> PilotReport:
    settings = settings or Settings()
    ledger = options.ledger or settings.packs_dir
    try:
        is_dir = ledger.is_dir()
    except OSError as exc:  # a name too long, a directory we may not enter
        raise UsageError(f"ledger {ledger}: {exc.strerror}") from None
    if not is_dir:
        raise UsageError(f"ledger {ledger} is not a directory")
    registry = load_config(options.config_dir or settings.config_dir).registry
    trusted = _trusted(options.key, settings.signing_key)
    every_pack = _load(ledger)
    ledger_packs = [p for p in every_pack if _of_modes(p, options.modes)]
    dated = [p for p in every_pack if _in_window(p, options.since)]
    packs = [p for p in ledger_packs if _in_window(p, options.since)]
    if not packs:
        since = f" since {options.since.isoformat()}" if options.since else ""
        modes = ", ".join(sorted(options.modes))
        other = f" ({len(dated)} of other modes: choose with --mode)" if dated else ""
        raise PackReadError(f"no {modes} evidence packs in {ledger}{since}{other}")
    verified = _Verification(verify_ledger(ledger, trusted), trusted)
    views = [p.view for p in packs if p.view is not None]
    days = _calendar(views)
    # The baseline is the pilot's first COMPLETED pack even when --since starts later.
    in_window = {id(v) for v in views}
    all_drifts = _drifts(
        [p.view for p in ledger_packs if p.view is not None], _baseline(options.baseline)
    )
    drifts = [d for d in all_drifts if id(d.view) in in_window]
    reviews = pilot_reviews(packs, verified.review_counts)
    kpis = [
        _ratio_kpi("sod", "SoD compliance", packs, lambda v: v.index.sod_check.result == "PASS"),
        _ratio_kpi(
            "scope",
            "Scope compliance",
            packs,
            lambda v: (
                v.index.capability_scope_check.result == "PASS"
                and not v.index.capability_scope_check.violations
            ),
        ),
        _completeness(packs, ledger_packs, verified),
        reviews.coverage_kpi(verified.trusted),
        reviews.time_kpi(),
        _weekly_drift(all_drifts, options.since),
    ]
    with_proposer = [v for v in views if v.proposer is not None]
    fallbacks = sum(1 for v in with_proposer if is_fallback(v))
    usage = _Usage.of(views, registry)
    per_day_cost, per_pack_cost = usage.per_day_cost, usage.per_pack_cost
    per_model, per_day_latency = usage.per_model, usage.per_day_latency
    total_cost = sum(per_day_cost.values())
    # A day's drift is that of its last pack (by sequence) against the baseline.
    daily_drift = {point.day: point.result.token_drift_pct for point in drifts}
    pack_drift = {id(point.view): point.result.token_drift_pct for point in drifts}
    counts: dict[str, int] = defaultdict(int)
    for view in views:
        counts[view.day] += 1
    return PilotReport(
        ledger=str(ledger),
        since=options.since.isoformat() if options.since else None,
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        packs=len(packs),
        modes=sorted(options.modes),
        packs_other_modes=len(dated) - len(packs),
        baseline_pack_id=all_drifts[0].baseline_id if all_drifts else None,
        verifier=VERIFIER if trusted is None else VERIFIER_KEYED.format(keyid=trusted.keyid),
        kpis=kpis,
        # A KPI with no data yet (a young pilot) is not a failure.
        all_pass=not any(k.status == "FAIL" for k in kpis),
        fallback_packs=fallbacks,
        fallback_rate_pct=_pct(fallbacks, len(with_proposer)),
        cost_total_usd=round(total_cost, 6),
        cost_not_spent_usd=round(usage.not_spent, 6),
        cost_per_day_usd=round(total_cost / len(days), 6) if days else None,
        unpriced_calls=usage.unpriced,
        latency=[
            ModelLatency(
                model_id=model,
                calls=len(values),
                p50_ms=round(percentile(values, 50), 1),
                p95_ms=round(percentile(values, 95), 1),
            )
            for model, values in sorted(per_model.items())
        ],
        drift_flagged_days=sorted(d for d, pct in daily_drift.items() if pct > DRIFT_THRESHOLD_PCT),
        served_model_changes=served_model_changes(views),
        days=[
            DayFigures(
                day=day,
                packs=counts.get(day, 0),
                drift_pct=daily_drift.get(day),
                cost_usd=round(per_day_cost[day], 6) if day in per_day_cost else None,
                latency_ms={
                    model: round(statistics.fmean(values), 1)
                    for model, values in sorted(per_day_latency.get(day, {}).items())
                },
            )
            for day in days
        ],
        reviews=reviews.figures(),
        pack_rows=[
            reviews.row(p, pack_drift.get(id(p.view)), per_pack_cost.get(id(p.view))) for p in packs
        ],
        budget_daily_limit_usd=registry.budget.daily_cost_limit_usd,
        budget_monthly_limit_usd=registry.budget.monthly_cost_limit_usd,
        generated_at=wall_clock.isoformat(wall_clock.now()),
        aiops_version=__version__,
    )


@dataclass
class _Usage:
    """Spend (live and record packs only), cost recorded but not spent, and latency
    samples (answers only), per day, pack and model."""

    per_day_cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    per_pack_cost: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    per_model: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    per_day_latency: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    not_spent: float = 0.0
    unpriced: int = 0

    @classmethod
    def of(cls, views: list[PackView], registry: Registry) -> _Usage:
        usage = cls()
        for view in views:
            spends = view.index.mode in SPENDING_MODES
            for call in calls(view, registry):
                if call.cost_usd is None:
                    usage.unpriced += 1
                elif spends:
                    usage.per_day_cost[view.day] += call.cost_usd
                    usage.per_pack_cost[id(view)] += call.cost_usd
                else:
                    usage.not_spent += call.cost_usd
                if call.latency_ms is not None and call.answered:
                    usage.per_model[call.model_id].append(call.latency_ms)
                    usage.per_day_latency[view.day][call.model_id].append(call.latency_ms)
        return usage


def _load(ledger: Path) -> list[_Pack]:
    packs: list[_Pack] = []
    for path in pack_dirs(ledger):
        try:
            view = load_pack(path)
            date.fromisoformat(view.day)  # every figure is kept by day
        except PackReadError as exc:
            packs.append(_Pack(path, None, str(exc)))
        except ValueError:
            packs.append(_Pack(path, None, f"{path}: creation_timestamp is not a date"))
        else:
            packs.append(_Pack(path, view))
    return sorted(packs, key=lambda p: (p.view.index.sequence if p.view else 0, p.path.name))


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
        return _kpi("drift", "Weekly drift", None, "%", threshold, "NO DATA", "no proposer output")
    start = date.fromisoformat(drifts[0].baseline_day)
    checks: dict[int, _DriftPoint] = {}
    for point in drifts:
        week = (date.fromisoformat(point.day) - start).days // 7
        if week >= 1 and week not in checks:
            checks[week] = point
    if since is not None:
        checks = {w: p for w, p in checks.items() if p.day >= since.isoformat()}
    if not checks:
        return _kpi(
            "drift", "Weekly drift", None, "%", threshold, "NO DATA", "pilot shorter than 8 days"
        )
    worst = max(p.result.token_drift_pct for p in checks.values())
    flagged = [p.view.index.evidence_pack_id for p in checks.values() if p.result.flagged]
    detail = "; ".join(
        f"week {w}: {p.result.token_drift_pct:.2f} % ({p.day})" for w, p in sorted(checks.items())
    )
    status = "FAIL" if flagged else "PASS"
    return _kpi("drift", "Weekly drift", round(worst, 2), "%", threshold, status, detail, flagged)


def _ratio_kpi(
    key: str, name: str, packs: list[_Pack], compliant: Callable[[PackView], bool]
) -> Kpi:
    failing = [p.label for p in packs if p.view is None or not compliant(p.view)]
    good = len(packs) - len(failing)
    return _kpi(
        key,
        name,
        round(100.0 * good / len(packs), 2),
        "%",
        ALL,
        "PASS" if not failing else "FAIL",
        f"{good}/{len(packs)} packs",
        failing,
    )


def _trusted(key: Path | None, signing_key: Path | None) -> TrustedKey | None:
    if key is not None:
        return load_public_key(key)
    return trusted_from_private(signing_key) if signing_key is not None else None


class _Verification:
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

    def pack_ok(self, pack: _Pack) -> bool:
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

    def ledger_problems(self, ledger_packs: list[_Pack]) -> list[str]:
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


def _completeness(packs: list[_Pack], ledger_packs: list[_Pack], verified: _Verification) -> Kpi:
    failing = [p.label for p in packs if p.view is None or not verified.pack_ok(p)]
    ledger = verified.ledger_problems(ledger_packs)
    good = len(packs) - len(failing)
    detail = f"{good}/{len(packs)} packs verify"
    detail += f"; ledger: {'; '.join(ledger)}" if ledger else ""
    return _kpi(
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


def _kpi(
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


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
