"""A synthetic 30-day L2 pilot, built the way a real one is.

1. ``record_fixtures``: for each distinct kind of day (the baseline, outputs that drift,
   a scope violation, a fallback), aiops' own record mode runs against the loopback
   server speaking the real wire formats; the transcript it writes is the fixture.
2. ``build_pilot_ledger``: for each day, a copy of that day's fixture with its latencies
   pinned to the day's figures (as ``make_sample_fixture`` pins the shipped sample's:
   measured on loopback they mean nothing) is replayed with ``aiops l2 replay`` into
   one ledger, ``SOURCE_DATE_EPOCH`` stepped to that day's noon.
3. Then what happens after the fact: operator reviews of chosen durations (through the
   review service's clock seam), one pack tampered with, one review copied onto
   another pack.

Every figure the pilot report must show is a constant here or follows from one.
"""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from aiops.canonical import pack_json
from aiops.cli import app
from aiops.schemas.review import Decision
from aiops.services.model_run import ModelRunOptions, run_model_layer
from aiops.services.review import ReviewClock, finish_review, start_review
from aiops.services.run_layer import RunOptions
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    error_body,
    responses_answer,
)
from tests.support.scripts import critic_handler, proposer_reply

DAY_ONE_EPOCH = 1768046400  # 2026-01-10T12:00:00+00:00
DAY = 86400
DAYS = 30

# The pilot's proposer answers the shipped sample, with a longer MacroOutlook summary
# of 79 words that are one token each: with it the baseline's parsed output is exactly
# BASELINE_TOKENS tokens, so substituting k summary words by a word the baseline never
# uses is a drift of exactly 100 x k / 600 = k / 6 %.
SUMMARY = (
    "Growth is steady and inflation is sticky near the target band while the central bank "
    "holds its policy rate and waits for clearer evidence that services prices are cooling; "
    "consumers keep spending on travel and housing costs remain firm, which supports earnings "
    "in domestic sectors but keeps pressure on margins for importers; the euro area stalls "
    "as manufacturing shrinks, energy prices ease and exporters face softer orders, so the "
    "dollar stays strong against major currencies and commodities drift lower"
)
BASELINE_TOKENS = 600
NEW_WORD = "drifted"

# --- the days ------------------------------------------------------------------------

DRIFT_WORDS = {5: 6, 10: 66, 29: 24}  # day -> summary words substituted
STRUCTURAL_DAY = 15  # regime, scenarios and triggers change, and 48 summary words
STRUCTURAL_WORDS = 48
SCOPE_VIOLATION_DAY = 12  # the proposer adds an OrderParameters output: BLOCKED
FALLBACK_DAY = 20  # gpt-5.2-pro is out of quota; gpt-5.2 answers
TAMPERED_DAY = 22  # operator_output.md edited after the pack was written
MISPLACED_REVIEW_DAY = 26  # carries day 25's review: refers to another pack
UNREVIEWED_DAYS = frozenset({3, 17, 29, 30})
SLOW_REVIEW_DAY, SLOW_REVIEW_MIN = 6, 20.0
# Reviewed with --approve, no terminal: counted for coverage, never timed.
SCRIPTED_REVIEW_DAYS = frozenset({7, 14})

# What each model's answers cost and take (the loopback server's scripted usage).
PROPOSER_USAGE = (2817, 1954, 896)  # input, output (reasoning included), reasoning
CRITIC_USAGE = (5342, 611, 402)


def run_into_ledger(
    runner: CliRunner,
    args: list[str],
    day: int,
    expected: int = 0,
    ledger: Path = Path("evidence_packs"),
) -> Path:
    """Run ``aiops ARGS`` on ``day`` (exit ``expected``): the one pack it added."""
    before = set(ledger.iterdir()) if ledger.is_dir() else set()
    result = runner.invoke(app, args, env={"SOURCE_DATE_EPOCH": str(day_epoch(day))})
    assert result.exit_code == expected, result.output
    (pack,) = set(ledger.iterdir()) - before
    return pack


def proposer_latency_ms(day: int) -> int:
    return 1000 * day


def critic_latency_ms(day: int) -> int:
    return 500 + 10 * day


FAILED_ATTEMPT_LATENCY_MS = 300  # the primary's refused call on the fallback day


def review_minutes(day: int) -> float | None:
    if day in UNREVIEWED_DAYS or day == MISPLACED_REVIEW_DAY:
        return None
    return SLOW_REVIEW_MIN if day == SLOW_REVIEW_DAY else 4.0 + day % 5


def day_epoch(day: int) -> int:
    return DAY_ONE_EPOCH + (day - 1) * DAY


def dp_lcs(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme for the LCS length: the reference the drift
    figures are checked against (aiops computes it bit-parallel)."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal, row[0] = 0, 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


# --- the outputs ---------------------------------------------------------------------


def baseline_outputs() -> dict[str, Any]:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = SUMMARY
    return outputs


def substituted(outputs: dict[str, Any], count: int) -> dict[str, Any]:
    """Replace the first ``count`` summary words by ``NEW_WORD``."""
    changed = copy.deepcopy(outputs)
    words = SUMMARY.split()
    words[:count] = [NEW_WORD] * count
    changed["outputs"][3]["summary"] = " ".join(words)
    return changed


def structural_outputs() -> dict[str, Any]:
    """Day 15: a new regime, S3 replaced by S4, a fourth no-trade trigger."""
    outputs = substituted(baseline_outputs(), STRUCTURAL_WORDS)
    report, regime, triggers = outputs["outputs"][0], outputs["outputs"][1], outputs["outputs"][5]
    regime["regime"] = "late-cycle, defensive"
    report["scenarios"][2] = {
        "id": "S4",
        "name": "Policy error",
        "probability": 0.2,
        "horizon": "4 weeks",
        "description": "The Fed signals hikes; credit spreads gap wider.",
        "key_drivers": ["hawkish FOMC"],
        "signposts": ["HY OAS above 400bp"],
        "rationale": "Tail risk the committee flagged.",
    }
    triggers["triggers"].append(
        {"id": "NT4", "condition": "No new risk while HY OAS is above 400bp.", "rationale": ""}
    )
    return outputs


def violating_outputs() -> dict[str, Any]:
    outputs = baseline_outputs()
    outputs["outputs"].append({"type": "OrderParameters", "symbol": "SPX", "qty": 10})
    return outputs


@dataclass(frozen=True)
class Variant:
    name: str
    outputs: dict[str, Any]
    fallback: bool = False
    text: str | None = None  # answer this text instead of the outputs as JSON


def variants() -> dict[str, Variant]:
    found = [
        Variant("baseline", baseline_outputs()),
        *[Variant(f"drift-{k}", substituted(baseline_outputs(), k)) for k in DRIFT_WORDS.values()],
        Variant("structural", structural_outputs()),
        Variant("violation", violating_outputs()),
        Variant("fallback", baseline_outputs(), fallback=True),
    ]
    return {v.name: v for v in found}


def variant_of(day: int) -> str:
    if day in DRIFT_WORDS:
        return f"drift-{DRIFT_WORDS[day]}"
    return {
        STRUCTURAL_DAY: "structural",
        SCOPE_VIOLATION_DAY: "violation",
        FALLBACK_DAY: "fallback",
    }.get(day, "baseline")


# --- 1. record -----------------------------------------------------------------------


def _quota_then_fallback(text: str) -> Any:
    """gpt-5.2-pro is out of quota (not retried, falls back); gpt-5.2 answers."""

    def handle(captured: Captured) -> Reply:
        if captured.body["model"] == "gpt-5.2-pro":
            return Reply(429, error_body("You exceeded your quota.", code="insufficient_quota"))
        return Reply(body=responses_answer(text, model="gpt-5.2", usage=PROPOSER_USAGE))

    return handle


def record_fixture(variant: Variant, target: Path, workdir: Path) -> Path:
    server = LoopbackServer()
    try:
        if variant.fallback:
            server.script(
                RESPONSES_PATH, _quota_then_fallback(sample.proposer_text(variant.outputs))
            )
        else:
            server.script(RESPONSES_PATH, proposer_reply(variant.outputs, variant.text))
        server.script(CHAT_PATH, critic_handler())
        run_model_layer(
            ModelRunOptions(
                run=RunOptions(layer="l2", mode="record", out=workdir / f"pack-{variant.name}"),
                fixture=target,
                allow_network=True,
                force=True,
            ),
            environ={
                "OPENAI_BASE_URL": server.base_url,
                "DEEPSEEK_BASE_URL": server.base_url,
                "OPENAI_API_KEY": "test-key-" + secrets.token_hex(8),
                "DEEPSEEK_API_KEY": "test-key-" + secrets.token_hex(8),
            },
        )
    finally:
        server.close()
    assert not server.problems, server.problems
    return target


def record_fixtures(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        name: record_fixture(variant, directory / f"{name}.json", directory)
        for name, variant in variants().items()
    }


# --- 2. replay, one day at a time ----------------------------------------------------


def day_fixture(recorded: Path, day: int, target: Path) -> Path:
    """The recorded fixture with the day's latencies pinned."""
    data = json.loads(recorded.read_bytes())
    for run in data["runs"]:
        if run["role"] == "critic":
            latency = critic_latency_ms(day)
        elif run["error"] is not None:
            latency = FAILED_ATTEMPT_LATENCY_MS
        else:
            latency = proposer_latency_ms(day)
        run["metadata"]["latency_ms"] = latency
    target.write_bytes(pack_json(data))
    return target


def replay_day(fixtures: dict[str, Path], ledger: Path, day: int, workdir: Path) -> Path:
    """The day's fixture replayed into ``ledger`` at the day's noon."""
    fixture = day_fixture(fixtures[variant_of(day)], day, workdir / f"day-{day:02d}.json")
    return replay(fixture, ledger, day, expected_exit=2 if day == SCOPE_VIOLATION_DAY else 0)


def replay(
    fixture: Path,
    ledger: Path,
    day: int,
    expected_exit: int = 0,
    config_dir: Path | None = None,
) -> Path:
    """``aiops l2 replay --fixture FIXTURE`` into ``ledger`` with the clock at the day's
    noon; the new pack directory."""
    before = set(ledger.iterdir()) if ledger.is_dir() else set()
    root = ["--config-dir", str(config_dir)] if config_dir is not None else []
    result = CliRunner().invoke(
        app,
        [*root, "l2", "replay", "--fixture", str(fixture)],
        env={"SOURCE_DATE_EPOCH": str(day_epoch(day)), "AIOPS_PACKS_DIR": str(ledger)},
    )
    assert result.exit_code == expected_exit, (fixture, result.output)
    (pack,) = set(ledger.iterdir()) - before
    return pack


# --- 3. after the fact ---------------------------------------------------------------


def review_pack(
    pack: Path,
    start_epoch: int,
    minutes: float,
    decision: Decision = "APPROVE",
    interactive: bool | None = True,
) -> None:
    """Record a review that took ``minutes``, through the review service's clock seam."""
    ticks = iter([0.0, minutes * 60.0])
    clock = ReviewClock(
        wall=lambda: datetime.fromtimestamp(start_epoch, UTC), monotonic=lambda: next(ticks)
    )
    session = start_review(pack, clock)
    finish_review(
        session, decision, f"reviewed in {minutes:g} min", "operator-a", interactive=interactive
    )


def build_pilot_ledger(ledger: Path, fixtures: dict[str, Path], workdir: Path) -> dict[int, Path]:
    """The 30 days replayed and reviewed, then one pack tampered with and one review
    copied onto another pack."""
    workdir.mkdir(parents=True, exist_ok=True)
    packs: dict[int, Path] = {}
    for day in range(1, DAYS + 1):
        packs[day] = replay_day(fixtures, ledger, day, workdir)
        minutes = review_minutes(day)
        if minutes is not None:
            review_pack(
                packs[day],
                day_epoch(day) + 3600,
                minutes,
                interactive=day not in SCRIPTED_REVIEW_DAYS,
            )
    tampered = packs[TAMPERED_DAY] / "operator_output.md"
    tampered.write_bytes(tampered.read_bytes().replace(b"PASS", b"PASS (edited)", 1))
    review = (packs[MISPLACED_REVIEW_DAY - 1] / "review.json").read_bytes()
    (packs[MISPLACED_REVIEW_DAY] / "review.json").write_bytes(review)
    return packs
