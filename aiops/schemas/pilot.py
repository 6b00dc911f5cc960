"""Results of ``aiops pilot drift`` and ``aiops pilot report`` (what ``--json`` prints)."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict

KpiStatus = Literal["PASS", "FAIL", "NO DATA"]
KpiUnit = Literal["%", "min"]
KpiComparison = Literal["at least", "below", "at most"]
_COMPARISON_SHOWN = {"at least": "", "below": "< ", "at most": "<= "}


class OutputFormat(Strict):
    """What a ``--json`` output is, for a program reading it: its name and version."""

    name: str
    version: int


DriftBasis = Literal["parsed", "text"]


class StructuralDrift(Strict):
    regime_baseline: str | None
    regime_current: str | None
    regime_changed: bool
    scenarios_added: list[str]
    scenarios_removed: list[str]
    triggers_added: list[str]
    triggers_removed: list[str]

    @property
    def changed(self) -> bool:
        return bool(
            self.regime_changed
            or self.scenarios_added
            or self.scenarios_removed
            or self.triggers_added
            or self.triggers_removed
        )


DRIFT_FORMAT = OutputFormat(name="aiops-pilot-drift", version=1)
REPORT_FORMAT = OutputFormat(name="aiops-pilot-report", version=1)


class DriftResult(Strict):
    format: OutputFormat = DRIFT_FORMAT
    baseline_pack_id: str
    current_pack_id: str
    layer_id: str
    prompt_id: str | None
    prompt_version: str | None
    basis: DriftBasis
    baseline_tokens: int
    current_tokens: int
    matched_tokens: int
    token_drift_pct: float
    threshold_pct: float
    flagged: bool
    structural: StructuralDrift
    structural_changed: bool
    # The proposer's served model in each pack (threat T7), when recorded; a change
    # between two known names is flagged.
    served_model_baseline: str | None = None
    served_model_current: str | None = None
    served_model_changed: bool = False


class Kpi(Strict):
    key: str
    name: str
    value: float | None  # None: no data
    unit: KpiUnit
    threshold: float
    comparison: KpiComparison  # how value must stand to threshold to pass
    status: KpiStatus
    detail: str
    failing_packs: list[str]

    @property
    def shown_value(self) -> str:
        return "n/a" if self.value is None else f"{self.value:.2f} {self.unit}"

    @property
    def shown_threshold(self) -> str:
        return f"{_COMPARISON_SHOWN[self.comparison]}{self.threshold:g} {self.unit}"


class DayFigures(Strict):
    day: str
    packs: int
    drift_pct: float | None
    cost_usd: float | None  # spend: live and record packs only
    latency_ms: dict[str, float]


class PackRow(Strict):
    """One pack of the report's window, as the per-day table shows it."""

    sequence: int | None
    pack_id: str
    dir_name: str  # the pack's directory in the ledger (links are relative to it)
    day: str | None
    mode: str | None
    status: str | None
    critic_decision: str | None
    reviewed: bool
    reviewer: str | None = None
    review_decision: str | None = None
    interactive: bool | None = None
    drift_pct: float | None = None
    cost_usd: float | None = None  # spend; None for replay and dry-run packs
    governance_verdict: str | None = None  # the newest L4 verdict on it; None: not reviewed


class ReviewFigures(Strict):
    due: int  # packs of the window, each due for a review
    reviewed: int  # reviews that verify
    approved: int
    rejected: int
    interactive: int  # decided at the prompt: their on-screen time is the KPI
    non_interactive: int  # decided on the command line: counted, never timed
    unknown: int  # reviews written before aiops recorded which kind they were


class ModelLatency(Strict):
    model_id: str
    calls: int
    p50_ms: float
    p95_ms: float


class CompletenessBasis(Strict):
    """How the completeness KPI's verdict was reached: verify-pack over every pack of
    the ledger, a pack unchanged since its last full verification (the per-user cache)
    taken from it, every other pack verified now."""

    packs: int
    unchanged: int  # unchanged since their last full verification
    verified_now: int
    cache_used: bool  # False: --no-cache, every pack verified now
    statement: str


class PilotReport(Strict):
    format: OutputFormat = REPORT_FORMAT
    ledger: str
    since: str | None
    first_day: str | None
    last_day: str | None
    packs: int
    modes: list[str] = ["live"]  # the modes whose packs the KPIs count
    packs_other_modes: int = 0  # packs of the window left out by mode
    baseline_pack_id: str | None
    verifier: str
    completeness_basis: CompletenessBasis | None = None
    kpis: list[Kpi]
    all_pass: bool
    fallback_packs: int
    fallback_rate_pct: float | None
    cost_total_usd: float  # spend: live and record packs only
    cost_not_spent_usd: float = 0.0  # cost recorded by replay and dry-run packs: not spend
    cost_per_day_usd: float | None
    unpriced_calls: int
    latency: list[ModelLatency]
    drift_flagged_days: list[str]
    # Each change of served model per role and model, and each pin mismatch (threat T7).
    served_model_changes: list[str] = []
    days: list[DayFigures]
    reviews: ReviewFigures | None = None
    pack_rows: list[PackRow] = []
    budget_daily_limit_usd: float | None = None  # the registry's [budget]
    budget_monthly_limit_usd: float | None = None
    generated_at: str | None = None
    aiops_version: str | None = None
