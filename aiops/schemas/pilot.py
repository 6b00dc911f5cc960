"""Results of ``aiops pilot drift`` and ``aiops pilot report`` (what ``--json`` prints)."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict

KpiStatus = Literal["PASS", "FAIL", "NO DATA"]
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


class DriftResult(Strict):
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
    value: str
    threshold: str
    status: KpiStatus
    detail: str
    failing_packs: list[str]


class DayFigures(Strict):
    day: str
    packs: int
    drift_pct: float | None
    cost_usd: float | None
    latency_ms: dict[str, float]


class ModelLatency(Strict):
    model_id: str
    calls: int
    p50_ms: float
    p95_ms: float


class PilotReport(Strict):
    ledger: str
    since: str | None
    first_day: str | None
    last_day: str | None
    packs: int
    baseline_pack_id: str | None
    verifier: str
    kpis: list[Kpi]
    all_pass: bool
    fallback_packs: int
    fallback_rate_pct: float | None
    cost_total_usd: float
    cost_per_day_usd: float | None
    unpriced_calls: int
    latency: list[ModelLatency]
    drift_flagged_days: list[str]
    # Each change of served model per role and model, and each pin mismatch (threat T7).
    served_model_changes: list[str] = []
    days: list[DayFigures]
