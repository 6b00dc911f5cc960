"""The pilot report over a month of live runs as an operator has it: a provider outage on
day 1, replays and dry-runs beside the pilot's days, reviews at the prompt and on the
command line, a served-model change mid-pilot (tests/support/pilot_live.py). Golden
snapshots of the report's JSON and HTML, with latencies (measured on loopback, the one
figure that is not a constant) replaced by zero."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.cli import app
from aiops.reporting.html import render_html
from aiops.schemas.pilot import Kpi, PilotReport
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.support.pilot import DRIFT_WORDS, FALLBACK_DAY, PROPOSER_USAGE, STRUCTURAL_DAY, day_epoch
from tests.support.pilot_live import (
    BASELINE_DAY,
    OUTAGE_DAY,
    SCRIPTED_REVIEW_DAYS,
    SERVED_AFTER,
    SERVED_BEFORE,
    SERVED_CHANGE_DAY,
    UNREVIEWED_DAYS,
    LivePilot,
    review_minutes,
)

PRO_COST = PROPOSER_USAGE[0] / 1000 * 0.021 + PROPOSER_USAGE[1] / 1000 * 0.168
FALLBACK_COST = PROPOSER_USAGE[0] / 1000 * 0.00175 + PROPOSER_USAGE[1] / 1000 * 0.014


def pack_id(pack: Path) -> str:
    return str(json.loads((pack / "evidence_pack.json").read_bytes())["evidence_pack_id"])


def recorded_cost(pack: Path) -> float:
    return sum(
        float(json.loads((pack / name).read_bytes())["cost_usd"])
        for name in ("proposer_output.json", "critic_output.json")
    )


def kpi(report: PilotReport, key: str) -> Kpi:
    return next(k for k in report.kpis if k.key == key)


@pytest.fixture(scope="module")
def ledger(live_pilot: LivePilot) -> Path:
    return live_pilot.live[1].parent


@pytest.fixture(scope="module")
def report(ledger: Path) -> PilotReport:
    return pilot_report(ReportOptions(ledger=ledger))


def test_live_packs_only_and_the_outage_is_no_baseline(
    report: PilotReport, live_pilot: LivePilot
) -> None:
    assert (report.modes, report.packs, report.packs_other_modes) == (["live"], 30, 4)
    assert report.baseline_pack_id == pack_id(live_pilot.live[BASELINE_DAY])
    outage = report.pack_rows[0]
    assert (outage.status, outage.drift_pct, outage.critic_decision) == ("FAILED", None, None)
    assert report.days[OUTAGE_DAY - 1].drift_pct is None  # no answer: not compared
    expected = {day: round(100 * words / 600, 2) for day, words in DRIFT_WORDS.items()}
    expected[STRUCTURAL_DAY] = 16.0
    expected[12] = 0.5  # the violating output: six tokens appended
    assert [d.drift_pct for d in report.days] == [None] + [
        expected.get(day, 0.0) for day in range(2, 31)
    ]
    assert report.drift_flagged_days == ["2026-01-19", "2026-01-24"]
    drift = kpi(report, "drift")
    assert (drift.status, drift.value) == ("PASS", 0.0)  # not 100 % against an outage
    assert drift.detail == (
        "week 1: 0.00 % (2026-01-18); week 2: 0.00 % (2026-01-25); "
        "week 3: 0.00 % (2026-02-01); week 4: 0.00 % (2026-02-08)"
    )


def test_spend_is_live_only_and_replayed_cost_is_never_spend(
    ledger: Path, report: PilotReport, live_pilot: LivePilot
) -> None:
    # 28 days answered by gpt-5.2-pro, one by gpt-5.2 (the fallback day), none on day 1;
    # the self-hosted critic is priced at 0.
    assert report.cost_total_usd == round(28 * PRO_COST + FALLBACK_COST, 6)
    assert report.cost_not_spent_usd == 0.0  # replays are not counted at all by default
    assert report.days[OUTAGE_DAY - 1].cost_usd == 0.0  # a live day: no answer, no spend
    both = pilot_report(ReportOptions(ledger=ledger, modes=frozenset({"live", "replay"})))
    replayed = sum(recorded_cost(pack) for pack in live_pilot.replays.values())
    assert replayed > 0.5
    assert both.cost_not_spent_usd == round(replayed, 6)
    assert both.cost_total_usd == report.cost_total_usd  # replayed cost is not spend
    assert {r.cost_usd for r in both.pack_rows if r.mode == "replay"} == {None}


def test_failed_calls_are_no_latency_samples(report: PilotReport) -> None:
    assert [(m.model_id, m.calls) for m in report.latency] == [
        ("deepseek-r1", 29),  # it judges the blocked output too
        ("gpt-5.2", 1),
        ("gpt-5.2-pro", 28),  # the outage's 503s and the quota refusal are no answers
    ]
    assert set(report.days[OUTAGE_DAY - 1].latency_ms) == set()
    assert set(report.days[FALLBACK_DAY - 1].latency_ms) == {"deepseek-r1", "gpt-5.2"}


def test_served_model_change_is_listed(report: PilotReport, live_pilot: LivePilot) -> None:
    changed = live_pilot.live[SERVED_CHANGE_DAY]
    assert report.served_model_changes == [
        f"2026-01-25 {pack_id(changed)}: proposer gpt-5.2-pro served by "
        f"{SERVED_BEFORE} -> {SERVED_AFTER}"
    ]


def test_reviews_scripted_apart_interactive_timed(report: PilotReport) -> None:
    assert report.reviews is not None
    assert report.reviews.model_dump() == {
        "due": 30,  # live packs only: the reviewed replay is not due
        "reviewed": 28,
        "approved": 27,
        "rejected": 1,
        "interactive": 26,
        "non_interactive": 2,
        "unknown": 0,
    }
    timed = [
        review_minutes(day)
        for day in range(1, 31)
        if day not in UNREVIEWED_DAYS | SCRIPTED_REVIEW_DAYS
    ]
    time_kpi = kpi(report, "review_time")
    assert (time_kpi.status, time_kpi.value) == ("PASS", round(statistics.median(timed), 2))
    assert time_kpi.value != 0.0
    coverage = kpi(report, "review_coverage")
    assert (coverage.status, coverage.value) == ("FAIL", 93.33)
    assert [k.status for k in report.kpis] == ["PASS", "FAIL", "PASS", "FAIL", "PASS", "PASS"]
    assert not report.all_pass


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """Latencies measured on loopback, set to zero: every other figure is a constant."""
    for model in data["latency"]:
        model["p50_ms"] = model["p95_ms"] = 0.0
    for day in data["days"]:
        day["latency_ms"] = dict.fromkeys(day["latency_ms"], 0.0)
    return data


@pytest.fixture
def report_json(ledger: Path, monkeypatch: pytest.MonkeyPatch, runner: CliRunner) -> Any:
    monkeypatch.chdir(ledger.parent)  # the ledger path shown is stable
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(day_epoch(31)))  # generated-at
    result = runner.invoke(app, ["pilot", "report", ledger.name, "--json"])
    assert result.exit_code == 1, result.output  # scope and coverage KPIs fail
    assert result.stderr == (
        "aiops: pilot KPIs not met: Scope compliance FAIL, Review coverage FAIL\n"
    )
    return json.loads(result.stdout)


def test_report_json_snapshot(report_json: Any, snapshot: SnapshotAssertion) -> None:
    assert report_json["baseline_pack_id"] == "EVP-L2-2026-01-11-002"
    assert masked(report_json) == snapshot(extension_class=JSONSnapshotExtension)


def test_report_html_snapshot(report_json: Any, snapshot: SnapshotAssertion) -> None:
    html = render_html(PilotReport.model_validate(masked(report_json)))
    assert f"{SERVED_BEFORE} -&gt; {SERVED_AFTER}" in html  # the change, listed
    assert 'data-pack="EVP-L2-2026-01-10-001"' in html  # the outage's row
    assert html.count("<tr data-pack=") == 30  # live packs only
    assert html == snapshot
