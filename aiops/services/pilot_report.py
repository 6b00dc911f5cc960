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
from aiops.errors import PackReadError
from aiops.evidence.findings import PackReport
from aiops.evidence.names import PROPOSER_OUTPUT_FILE, REVIEW_FILE, RUN_MANIFEST_FILE
from aiops.evidence.reader import view_of
from aiops.evidence.sign import TrustedKey, load_public_key, trusted_from_private
from aiops.evidence.verify import ReadPack
from aiops.schemas.pilot import CompletenessBasis, DayFigures, Kpi, PilotReport
from aiops.services.governance_reviews import with_governance
from aiops.services.pilot_baseline import (
    DriftPoint,
    chosen_baseline,
    drift_points,
    flagged_days,
    read_answer,
    weekly_drift,
)
from aiops.services.pilot_facts import FACTS_VERSION, PackFacts
from aiops.services.pilot_kpis import Verification, completeness_kpi, ratio_kpi
from aiops.services.pilot_reviews import DUE_MODES, PilotReviews, is_due, pilot_reviews
from aiops.services.pilot_served import served_model_changes
from aiops.services.pilot_usage import Usage
from aiops.services.runs import ledger_dir
from aiops.services.verify_cache import CacheUse, Derivation, verify_ledger_cached
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
    """A pack directory of the ledger: its facts (``pilot_facts``), or why its index
    could not be read."""

    path: Path
    facts: PackFacts | None
    error: str = ""

    @property
    def label(self) -> str:
        return self.facts.pack_id if self.facts else self.path.name


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
    ledger_read = _read_ledger(ledger, trusted, options.use_cache)
    verified, every_pack, cache_use = ledger_read.verified, ledger_read.packs, ledger_read.use
    chosen = _Chosen.of(every_pack, options, ledger)
    # The baseline is the pilot's first COMPLETED pack even when --since starts later.
    all_drifts = drift_points(
        ledger,
        chosen.ledger_facts,
        ledger_read.answer_of,
        chosen_baseline(options.baseline),
        options.use_cache,
    )
    in_window = {id(f) for f in chosen.facts}
    drifts = [d for d in all_drifts if id(d.pack) in in_window]
    reviews = pilot_reviews(chosen.packs, verified.review_counts)
    kpis = _kpis(chosen, verified, reviews, all_drifts, options.since)
    usage = Usage.of(chosen.facts, registry)
    days = _calendar(chosen.facts)
    pack_drift = {id(point.pack): point.token_drift_pct for point in drifts}
    with_proposer = [f for f in chosen.facts if f.has_proposer]
    fallbacks = sum(1 for f in with_proposer if f.fallback)
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
        drift_flagged_days=flagged_days(drifts),
        served_model_changes=served_model_changes(chosen.facts),
        days=_day_figures(days, chosen.facts, usage, drifts),
        reviews=reviews.figures(),
        pack_rows=with_governance(
            ledger,
            [
                reviews.row(p, pack_drift.get(id(p.facts)), usage.per_pack_cost.get(id(p.facts)))
                for p in chosen.packs
            ],
            _manifests(every_pack),
            sorted(p.path.name for p in every_pack),
        ),
        budget_daily_limit_usd=registry.budget.daily_cost_limit_usd,
        budget_monthly_limit_usd=registry.budget.monthly_cost_limit_usd,
        generated_at=wall_clock.isoformat(wall_clock.now()),
        aiops_version=__version__,
    )


def _manifests(packs: list[_Pack]) -> dict[str, Any]:
    """The manifests verify-pack read, by pack directory, as ``with_governance`` reads
    them: only those recording a governance verdict matter (the others: empty)."""
    return {
        p.path.name: p.facts.governance_manifest or {}
        for p in packs
        if p.facts is not None and p.facts.manifest_read
    }


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
    def facts(self) -> list[PackFacts]:
        return [p.facts for p in self.packs if p.facts is not None]

    @property
    def ledger_facts(self) -> list[PackFacts]:
        return [p.facts for p in self.ledger_packs if p.facts is not None]


def _kpis(
    chosen: _Chosen,
    verified: Verification,
    reviews: PilotReviews,
    all_drifts: list[DriftPoint],
    since: date | None,
) -> list[Kpi]:
    packs = chosen.packs
    return [
        ratio_kpi("sod", "SoD compliance", packs, lambda f: f.sod_pass),
        ratio_kpi("scope", "Scope compliance", packs, lambda f: f.scope_pass),
        completeness_kpi(packs, chosen.ledger_packs, verified),
        reviews.coverage_kpi(verified.trusted),
        reviews.time_kpi(),
        weekly_drift(all_drifts, since),
    ]


def _day_figures(
    days: list[str], packs: list[PackFacts], usage: Usage, drifts: list[DriftPoint]
) -> list[DayFigures]:
    # A day's drift is that of its last pack (by sequence) against the baseline.
    daily_drift = {point.day: point.token_drift_pct for point in drifts}
    counts: dict[str, int] = defaultdict(int)
    for pack in packs:
        counts[pack.day] += 1
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


@dataclass(frozen=True)
class _LedgerRead:
    verified: Verification
    packs: list[_Pack]
    use: CacheUse
    paths: dict[int, Path]  # by id of each pack's facts

    def answer_of(self, facts: PackFacts) -> dict[str, Any]:
        """A pack's answer for drift, read again from the pack: it must still be the
        bytes verify-pack verified. Drift keeps each answer's result (``pilot_baseline``),
        so an answer is read at most once a report, and none is held for all packs."""
        return _read_answer(self.paths[id(facts)], facts)


def _read_ledger(ledger: Path, trusted: TrustedKey | None, use_cache: bool = True) -> _LedgerRead:
    """verify-pack over the ledger, and each pack's facts from what it read: every file
    is read and checked once (a pack unchanged since it verified earlier is taken from
    the per-user cache unless ``use_cache`` is off: ``verify_cache``). A pack whose index
    does not make a view has no facts (it fails every KPI); an entry without an index is
    no pack (the ledger's problem)."""

    def derive(path: Path, read: ReadPack, pack: PackReport) -> PackFacts | str:
        try:
            view = view_of(path, read)
            facts = PackFacts.of(
                view,
                read.sidecars.get(REVIEW_FILE),
                pack.review.present,
                read.docs.get(RUN_MANIFEST_FILE),
            )
        except PackReadError as exc:
            return str(exc)
        return facts

    derivation: Derivation[PackFacts | str] = Derivation(
        FACTS_VERSION, derive, _dump_facts, _load_facts
    )
    report, derived, cache_use = verify_ledger_cached(ledger, trusted, derivation, use_cache)
    packs: list[_Pack] = []
    for pack in report.packs:
        path = ledger / pack.dir_name
        value = derived.get(pack.dir_name)
        if value is None:
            if pack.files and pack.files[0].status != "MISSING":
                errors = [f.message for f in pack.errors] or ["its index does not read"]
                packs.append(_Pack(path, None, f"{path}: {errors[0]}"))
        elif isinstance(value, str):
            packs.append(_Pack(path, None, value))
        else:
            packs.append(_Pack(path, value))
    packs.sort(key=lambda p: (p.facts.sequence if p.facts else 0, p.path.name))
    paths = {id(p.facts): p.path for p in packs if p.facts is not None}
    return _LedgerRead(Verification(report, trusted), packs, cache_use, paths)


def _dump_facts(value: PackFacts | str) -> Any:
    return {"error": value} if isinstance(value, str) else value.to_json()


def _load_facts(doc: Any) -> PackFacts | str:
    if isinstance(doc, dict) and set(doc) == {"error"} and isinstance(doc["error"], str):
        return str(doc["error"])
    if not isinstance(doc, dict):
        raise TypeError("not the facts of a pack")
    return PackFacts.from_json(doc)


def _read_answer(path: Path, facts: PackFacts) -> dict[str, Any]:
    """A pack's ``proposer_output.json``: the bytes verify-pack verified (their digest
    as the index lists it), else the pack changed meanwhile."""
    digest, answer = read_answer(path)
    if facts.proposer_sha256 is None or digest != facts.proposer_sha256 or answer is None:
        raise PackReadError(
            f"{path / PROPOSER_OUTPUT_FILE} changed while the report was made; run it again"
        )
    return answer


def _of_modes(pack: _Pack, modes: frozenset[str]) -> bool:
    """A pack whose index cannot be read has no mode: it is never filtered out."""
    return pack.facts is None or is_due(pack.facts.mode, modes)


def _in_window(pack: _Pack, since: date | None) -> bool:
    """A pack whose index cannot be read has no date: it is never filtered out."""
    return since is None or pack.facts is None or pack.facts.day >= since.isoformat()


def _calendar(packs: list[PackFacts]) -> list[str]:
    if not packs:
        return []
    first = date.fromisoformat(min(p.day for p in packs))
    last = date.fromisoformat(max(p.day for p in packs))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _trusted(key: Path | None, signing_key: Path | None) -> TrustedKey | None:
    if key is not None:
        return load_public_key(key)
    return trusted_from_private(signing_key) if signing_key is not None else None


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
