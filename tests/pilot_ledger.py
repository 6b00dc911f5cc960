"""Builds synthetic L2 pilot ledgers through the real pack writer.

Proposer and critic output files are hand-built in the agreed format (common file
formats: ``proposer_output.json`` / ``critic_output.json``). Once replayed L2 runs exist,
``write_l2_pack`` is the one function to swap for a replay with ``SOURCE_DATE_EPOCH``
stepped per day.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json, prefixed_sha256
from aiops.evidence.pack import (
    CRITIC_OUTPUT_FILE,
    PROPOSER_OUTPUT_FILE,
    Destination,
    PackContent,
    write_evidence,
)
from aiops.evidence.report import OperatorReport
from aiops.governance.scope import build_scope_check
from aiops.resources import default_config_dir
from aiops.schemas.checks import Violation
from aiops.schemas.manifest import OutputEntry
from aiops.schemas.pack import ModelRun
from aiops.services.review import ReviewClock, finish_review, start_review
from aiops.services.run_layer import RunOptions, base_manifest, preflight
from aiops.settings import Settings

DAY_ONE_EPOCH = 1768046400  # 2026-01-10T12:00:00+00:00
DAY = 86400
PROMPT_ID, PROMPT_VERSION = "l2_market_outlook", "1.0"

# 143 distinct letter-only words: the MacroOutlook summary, where drift is injected.
# With them the baseline's parsed output is exactly BASELINE_TOKENS tokens long, so
# substituting k summary words is a drift of exactly 100 x k / 200 = k / 2 %.
_SYLLABLES = ["ba", "ce", "di", "fo", "gu", "ha", "ke", "li", "mo", "nu", "pa", "re"]
SUMMARY_WORDS = [a + b + c for a in _SYLLABLES for b in _SYLLABLES[:4] for c in "xyz"][:143]
BASELINE_TOKENS = 200


def baseline_parsed() -> dict[str, Any]:
    return {
        "outputs": [
            {
                "type": "RegimeClassification",
                "regime": "risk-on",
                "confidence": 0.6,
                "rationale": "growth holds while inflation cools",
            },
            {
                "type": "ScenarioReport",
                "scenarios": [
                    {"id": "S1", "name": "soft landing", "probability": 0.5},
                    {"id": "S2", "name": "stagflation", "probability": 0.3},
                    {"id": "S3", "name": "recession", "probability": 0.2},
                ],
            },
            {"type": "NoTradeTriggers", "triggers": ["vix above thirty", "cpi surprise"]},
            {"type": "UncertaintyAssessment", "level": "medium", "drivers": ["policy path"]},
            {"type": "MacroOutlook", "summary": " ".join(SUMMARY_WORDS)},
        ]
    }


def with_summary_substituted(parsed: dict[str, Any], count: int) -> dict[str, Any]:
    """Replace ``count`` consecutive summary words (from word 10) by a word the baseline
    never uses: exactly ``count`` tokens substituted, everything else matching."""
    changed = copy.deepcopy(parsed)
    words = list(SUMMARY_WORDS)
    words[10 : 10 + count] = ["drifted"] * count
    changed["outputs"][4]["summary"] = " ".join(words)
    return changed


@dataclass
class DaySpec:
    day: int  # 1 = the baseline day
    parsed: dict[str, Any] = field(default_factory=baseline_parsed)
    proposer_model: str = "gpt-5.2-pro"
    attempt_models: list[str] = field(default_factory=lambda: ["gpt-5.2-pro"])
    scope_violation: bool = False
    proposer_latency_ms: float = 1000.0
    critic_latency_ms: float = 500.0
    input_tokens: int = 2000
    output_tokens: int = 5000
    recorded_cost_usd: float | None = None
    review_minutes: float | None = None
    review_decision: str = "APPROVE"
    prompt_version: str = PROMPT_VERSION

    @property
    def epoch(self) -> int:
        return DAY_ONE_EPOCH + (self.day - 1) * DAY


@contextmanager
def source_date(epoch: int) -> Iterator[None]:
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous


def model_output(
    role: str, model_id: str, provider_model: str, endpoint: str, text: str, **extra: Any
) -> dict[str, Any]:
    return {
        "role": role,
        "run_id": f"{role}-run-001",
        "model_id": model_id,
        "provider_model": provider_model,
        "endpoint_kind": endpoint,
        "prompt_hash": prefixed_sha256(f"{role} request".encode()),
        "output_hash": prefixed_sha256(text.encode("utf-8")),
        "output_text": text,
        "outcome": "ok",
        **extra,
    }


def write_l2_pack(ledger: Path, spec: DaySpec) -> Path:
    """One L2 replay pack for ``spec.day``, written with the clock at that day's noon."""
    with source_date(spec.epoch):
        pre = preflight(
            RunOptions(layer="l2", mode="replay", config_dir=default_config_dir()),
            Settings(packs_dir=ledger),
        )
        parsed = spec.parsed
        text = pack_json(parsed).decode("utf-8")
        proposer = model_output(
            "proposer",
            spec.proposer_model,
            spec.proposer_model,
            "responses",
            text,
            parsed=parsed,
            usage={
                "input_tokens": spec.input_tokens,
                "output_tokens": spec.output_tokens,
                "reasoning_tokens": spec.output_tokens // 2,
            },
            latency_ms=spec.proposer_latency_ms,
            attempts=[{"model_id": m, "attempt": n + 1} for n, m in enumerate(spec.attempt_models)],
        )
        if spec.recorded_cost_usd is not None:
            proposer["cost_usd"] = spec.recorded_cost_usd
        files = {PROPOSER_OUTPUT_FILE: pack_json(proposer)}
        outputs = [
            OutputEntry(
                role="proposer",
                model_id=spec.proposer_model,
                artifact_path=PROPOSER_OUTPUT_FILE,
                output_hash=proposer["output_hash"],
            )
        ]
        proposer_run = ModelRun(
            model_id=spec.proposer_model,
            run_id="proposer-run-001",
            prompt_hash=proposer["prompt_hash"],
            output_hash=proposer["output_hash"],
            artifact_path=PROPOSER_OUTPUT_FILE,
        )
        critic_run = None
        violations: list[Violation] = []
        if spec.scope_violation:
            violations = [
                Violation(
                    rule="forbidden_output_type",
                    detail="OrderParameters is forbidden in L2_market_outlook",
                    location="outputs[5]",
                )
            ]
        else:
            critic_text = '{"decision": "APPROVE"}'
            critic = model_output(
                "critic",
                "deepseek-r1",
                "deepseek-r1",
                "chat_completions",
                critic_text,
                parsed={"decision": "APPROVE"},
                usage={"input_tokens": 3000, "output_tokens": 800, "reasoning_tokens": 400},
                latency_ms=spec.critic_latency_ms,
                attempts=[{"model_id": "deepseek-r1", "attempt": 1}],
                decision="APPROVE",
                rationale="scenarios are consistent with the snapshot",
                evidence_ids=[proposer["output_hash"]],
                findings=[{"severity": "low", "title": "probabilities sum to one"}],
            )
            files[CRITIC_OUTPUT_FILE] = pack_json(critic)
            outputs.append(
                OutputEntry(
                    role="critic",
                    model_id="deepseek-r1",
                    artifact_path=CRITIC_OUTPUT_FILE,
                    output_hash=critic["output_hash"],
                )
            )
            critic_run = ModelRun(
                model_id="deepseek-r1",
                run_id="critic-run-001",
                prompt_hash=critic["prompt_hash"],
                output_hash=critic["output_hash"],
                artifact_path=CRITIC_OUTPUT_FILE,
            )
        manifest = base_manifest(pre, "replay", "").model_copy(
            update={
                "prompt_id": PROMPT_ID,
                "prompt_version": spec.prompt_version,
                "outputs_manifest": outputs,
            }
        )
        scope = build_scope_check(
            run_id=pre.run_id,
            layer_id=pre.layer_id,
            timestamp=manifest.timestamp,
            scope=pre.scope,
            checks=pre.scope_checks,
            violations=violations,
            outputs_checked=True,
        )
        status = "BLOCKED" if spec.scope_violation else "COMPLETED"
        written, _ = write_evidence(
            PackContent(
                manifest=manifest,
                status=status,
                sod=pre.sod,
                scope=scope,
                report=OperatorReport(manifest=manifest, status=status, sod=pre.sod, scope=scope),
                proposer=proposer_run,
                critic=critic_run,
                model_files=files,
            ),
            Destination(ledger=ledger, target=None),
        )
    if spec.review_minutes is not None:
        review_pack(written.path, spec.epoch + 3600, spec.review_minutes, spec.review_decision)
    return written.path


def review_pack(pack: Path, start_epoch: int, minutes: float, decision: str = "APPROVE") -> None:
    """Record a review that took ``minutes``, through the review service's clock seam."""
    ticks = iter([0.0, minutes * 60.0])
    clock = ReviewClock(
        wall=lambda: datetime.fromtimestamp(start_epoch, UTC), monotonic=lambda: next(ticks)
    )
    session = start_review(pack, clock)
    finish_review(session, decision, f"reviewed in {minutes:g} min", "operator-a")  # type: ignore[arg-type]


# --- The 30-day pilot the report tests check figure by figure --------------------------

DRIFT_WORDS = {5: 6, 10: 24, 15: 40, 29: 8}  # day -> summary words substituted
SCOPE_VIOLATION_DAY = 12
STRUCTURAL_DAY = 15
FALLBACK_DAY = 20
TAMPERED_DAY = 22
RECORDED_COST_DAY, RECORDED_COST = 25, 1.5
MISPLACED_REVIEW_DAY = 26  # carries day 25's review: refers to another pack
UNREVIEWED_DAYS = {3, 17, 29, 30}
SLOW_REVIEW_DAY, SLOW_REVIEW_MIN = 6, 20.0


def review_minutes(day: int) -> float | None:
    if day in UNREVIEWED_DAYS or day == MISPLACED_REVIEW_DAY:
        return None
    return SLOW_REVIEW_MIN if day == SLOW_REVIEW_DAY else 4.0 + day % 5


def pilot_days() -> list[DaySpec]:
    days: list[DaySpec] = []
    for day in range(1, 31):
        parsed = baseline_parsed()
        if day in DRIFT_WORDS:
            parsed = with_summary_substituted(parsed, DRIFT_WORDS[day])
        if day == STRUCTURAL_DAY:
            parsed["outputs"][0]["regime"] = "risk-off"
            scenarios = parsed["outputs"][1]["scenarios"]
            scenarios[2] = {"id": "S4", "name": "policy error", "probability": 0.2}
            parsed["outputs"][2]["triggers"].append("credit spreads widen")
        if day == SCOPE_VIOLATION_DAY:
            parsed["outputs"].append({"type": "OrderParameters", "symbol": "ES", "side": "buy"})
        spec = DaySpec(
            day=day,
            parsed=parsed,
            scope_violation=day == SCOPE_VIOLATION_DAY,
            proposer_latency_ms=1000.0 * day,
            critic_latency_ms=500.0 + 10 * day,
            review_minutes=review_minutes(day),
            recorded_cost_usd=RECORDED_COST if day == RECORDED_COST_DAY else None,
        )
        if day == FALLBACK_DAY:
            spec.proposer_model = "gpt-5.2"
            spec.attempt_models = ["gpt-5.2-pro", "gpt-5.2"]
        days.append(spec)
    return days


def build_pilot_ledger(ledger: Path) -> dict[int, Path]:
    """Write the 30 days, then tamper with one pack and misplace one review."""
    packs = {spec.day: write_l2_pack(ledger, spec) for spec in pilot_days()}
    tampered = packs[TAMPERED_DAY] / "operator_output.md"
    tampered.write_bytes(tampered.read_bytes().replace(b"PASS", b"PASS (edited)", 1))
    review = (packs[RECORDED_COST_DAY] / "review.json").read_bytes()
    (packs[MISPLACED_REVIEW_DAY] / "review.json").write_bytes(review)
    return packs
