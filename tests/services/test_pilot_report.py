"""The pilot report over the synthetic 30-day ledger of replayed runs: every figure
checked against what tests/support/pilot.py built in."""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import date
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.canonical import canonical_json
from aiops.cli import app
from aiops.errors import PackReadError, UsageError
from aiops.schemas.pilot import Kpi, PilotReport
from aiops.services.pilot_drift import tokenize
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.support.pilot import (
    BASELINE_TOKENS,
    CRITIC_USAGE,
    DRIFT_WORDS,
    FALLBACK_DAY,
    MISPLACED_REVIEW_DAY,
    PROPOSER_USAGE,
    SCOPE_VIOLATION_DAY,
    SCRIPTED_REVIEW_DAYS,
    SLOW_REVIEW_DAY,
    STRUCTURAL_DAY,
    TAMPERED_DAY,
    baseline_outputs,
    critic_latency_ms,
    day_epoch,
    dp_lcs,
    proposer_latency_ms,
    replay_day,
    review_minutes,
    review_pack,
    structural_outputs,
)

REPLAY = frozenset({"replay"})  # the synthetic pilot replays its days


def cost(usage: tuple[int, int, int], per_1k_in: float, per_1k_out: float) -> float:
    return usage[0] / 1000 * per_1k_in + usage[1] / 1000 * per_1k_out


PRO_COST = cost(PROPOSER_USAGE, 0.021, 0.168)  # gpt-5.2-pro at the registry's prices
FALLBACK_COST = cost(PROPOSER_USAGE, 0.00175, 0.014)  # gpt-5.2
CRITIC_COST = cost(CRITIC_USAGE, 0.0, 0.0)  # deepseek-r1 is self-hosted: priced at 0

# Day 12 appends {"qty":10,"symbol":"SPX","type":"OrderParameters"}: six tokens after
# the baseline's 600, so every baseline token still matches.
VIOLATION_DRIFT = round(100 * (1 - 2 * 600 / (600 + 606)), 2)


def reference_drift(current: dict[str, object]) -> float:
    """The documented formula over the textbook LCS (not the bit-parallel one)."""
    a = tokenize(canonical_json(baseline_outputs()).decode())
    b = tokenize(canonical_json(current).decode())
    return round(100 * (1 - 2 * dp_lcs(a, b) / (len(a) + len(b))), 2)


STRUCTURAL_DRIFT = 16.0  # reference_drift(structural_outputs()), checked below


def pack_id(day: int) -> str:
    return f"EVP-L2-{date.fromordinal(date(2026, 1, 9).toordinal() + day).isoformat()}-{day:03d}"


@pytest.fixture(scope="module")
def ledger(pilot_ledger: dict[int, Path]) -> Path:
    return pilot_ledger[1].parent


@pytest.fixture(scope="module")
def report(ledger: Path) -> PilotReport:
    return pilot_report(ReportOptions(modes=REPLAY, ledger=ledger))


def kpi(report: PilotReport, key: str) -> Kpi:
    return next(k for k in report.kpis if k.key == key)


def test_kpis_match_what_the_ledger_holds(report: PilotReport) -> None:
    assert report.packs == 30 and not report.all_pass
    assert [(k.key, k.status) for k in report.kpis] == [
        ("sod", "PASS"),  # the fallback model keeps separation of duties too
        ("scope", "FAIL"),
        ("completeness", "FAIL"),
        ("review_coverage", "FAIL"),  # 5 packs without a review that verifies
        ("review_time", "PASS"),
        ("drift", "FAIL"),
    ]
    assert kpi(report, "sod").value == 100.0  # a number in JSON, shown with its unit
    assert kpi(report, "sod").shown_value == "100.00 %"
    scope = kpi(report, "scope")
    assert (scope.value, scope.failing_packs) == (96.67, [pack_id(SCOPE_VIOLATION_DAY)])
    completeness = kpi(report, "completeness")
    assert (completeness.value, completeness.detail) == (93.33, "28/30 packs verify")
    # the pack edited after the fact, and the one holding another pack's review; the
    # blocked pack and the fallback pack are complete
    assert completeness.failing_packs == [pack_id(TAMPERED_DAY), pack_id(MISPLACED_REVIEW_DAY)]
    assert report.verifier.startswith("verify-pack")


def test_median_review_time_counts_only_valid_interactive_reviews(report: PilotReport) -> None:
    built = [m for d in range(1, 31) if (m := review_minutes(d)) is not None]
    assert len(built) == 25
    timed = [
        m
        for d in range(1, 31)
        if (m := review_minutes(d)) is not None and d not in SCRIPTED_REVIEW_DAYS
    ]
    review = kpi(report, "review_time")
    # Scripted reviews (--approve, no terminal) are not 0-minute reviews: not timed.
    assert review.value == round(statistics.median(timed), 2) == 6.0
    assert statistics.median([*timed, 0.0, 0.0]) != review.value or len(timed) == 23
    assert review.shown_value == "6.00 min" and review.shown_threshold == "< 15 min"
    assert review.detail == (
        f"23 interactive reviews timed; 2 made without a terminal (not timed); 1 over 15 min: "
        f"{pack_id(SLOW_REVIEW_DAY)}"
    )
    coverage = kpi(report, "review_coverage")
    assert (coverage.value, coverage.detail) == (
        83.33,
        "25/30 packs reviewed; 1 invalid (not counted); unauthenticated (no key: review "
        "signatures not checked)",
    )
    assert coverage.failing_packs == [pack_id(d) for d in (3, 17, MISPLACED_REVIEW_DAY, 29, 30)]
    assert report.reviews is not None
    assert report.reviews.model_dump() == {
        "due": 30,
        "reviewed": 25,
        "approved": 25,
        "rejected": 0,
        "interactive": 23,
        "non_interactive": 2,
        "unknown": 0,
    }


def test_structural_day_drift_equals_the_reference() -> None:
    assert reference_drift(structural_outputs()) == STRUCTURAL_DRIFT


def test_weekly_drift_checks_days_8_15_22_29_against_day_1(report: PilotReport) -> None:
    drift = kpi(report, "drift")
    assert drift.value == STRUCTURAL_DRIFT and drift.shown_threshold == "<= 10 %"
    assert drift.failing_packs == [pack_id(STRUCTURAL_DAY)]
    assert drift.detail == (
        "week 1: 0.00 % (2026-01-17); week 2: 16.00 % (2026-01-24); "
        "week 3: 0.00 % (2026-01-31); week 4: 4.00 % (2026-02-07)"
    )
    assert report.baseline_pack_id == pack_id(1)


def test_daily_drift_series_is_exact(report: PilotReport) -> None:
    # substituting k of the baseline's 600 tokens is a drift of k / 6 %
    expected = {day: round(100 * words / BASELINE_TOKENS, 2) for day, words in DRIFT_WORDS.items()}
    expected[STRUCTURAL_DAY] = STRUCTURAL_DRIFT
    expected[SCOPE_VIOLATION_DAY] = VIOLATION_DRIFT
    assert [d.drift_pct for d in report.days] == [expected.get(day, 0.0) for day in range(1, 31)]
    assert (expected[5], expected[10], expected[29], VIOLATION_DRIFT) == (1.0, 11.0, 4.0, 0.5)
    # above 10 %: day 10 (66 words) and day 15; only day 15 is a weekly check
    assert report.drift_flagged_days == ["2026-01-19", "2026-01-24"]


def test_fallback_cost_and_latency(report: PilotReport) -> None:
    assert (report.fallback_packs, report.fallback_rate_pct) == (1, 3.33)
    costs = [PRO_COST + CRITIC_COST] * 30
    costs[FALLBACK_DAY - 1] = FALLBACK_COST + CRITIC_COST
    # Replayed runs spent nothing: their recorded cost is shown apart, never as spend.
    assert [d.cost_usd for d in report.days] == [None] * 30
    assert (report.cost_total_usd, report.cost_per_day_usd) == (0.0, 0.0)
    assert report.cost_not_spent_usd == round(sum(costs), 6) == 11.267727
    assert {row.cost_usd for row in report.pack_rows} == {None}
    assert report.unpriced_calls == 0
    # The proposer answers in 1000 x day ms, the critic in 500 + 10 x day (every day:
    # it reviews the blocked output too). Nearest rank over n values: the
    # ceil(p/100 x n)-th smallest.
    critic = sorted(critic_latency_ms(d) for d in range(1, 31))
    pro = sorted(proposer_latency_ms(d) for d in range(1, 31) if d != FALLBACK_DAY)
    assert (critic[15 - 1], critic[29 - 1], pro[15 - 1], pro[28 - 1]) == (650, 790, 15000, 29000)
    assert [(m.model_id, m.calls, m.p50_ms, m.p95_ms) for m in report.latency] == [
        ("deepseek-r1", 30, 650.0, 790.0),
        ("gpt-5.2", 1, 20000.0, 20000.0),  # the failed gpt-5.2-pro attempt is not an answer
        ("gpt-5.2-pro", 29, 15000.0, 29000.0),
    ]
    day20 = report.days[FALLBACK_DAY - 1]
    assert day20.latency_ms == {"deepseek-r1": 700.0, "gpt-5.2": 20000.0}


def test_cost_is_what_each_run_recorded_not_todays_prices(
    ledger: Path, report: PilotReport, config_copy: Path
) -> None:
    """A price change in the registry does not rewrite the cost of runs already made."""
    registry = config_copy / "model_registry.toml"
    text = registry.read_text()
    assert "cost_per_1k_output = 0.168" in text
    registry.write_text(text.replace("cost_per_1k_output = 0.168", "cost_per_1k_output = 9.0"))
    repriced = pilot_report(ReportOptions(modes=REPLAY, ledger=ledger, config_dir=config_copy))
    assert repriced.cost_not_spent_usd == report.cost_not_spent_usd == 11.267727


def test_since_keeps_the_day_one_baseline(ledger: Path) -> None:
    report = pilot_report(ReportOptions(modes=REPLAY, ledger=ledger, since=date(2026, 1, 25)))
    assert report.packs == 15 and report.first_day == "2026-01-25"
    assert report.baseline_pack_id == pack_id(1)
    drift = kpi(report, "drift")
    assert (drift.status, drift.value) == ("PASS", 4.0)
    assert drift.detail == "week 3: 0.00 % (2026-01-31); week 4: 4.00 % (2026-02-07)"
    assert kpi(report, "scope").status == "PASS"
    assert kpi(report, "completeness").failing_packs == [
        pack_id(TAMPERED_DAY),
        pack_id(MISPLACED_REVIEW_DAY),
    ]


def test_a_deleted_pack_breaks_the_chain_and_fails_completeness(
    ledger: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "ledger"
    shutil.copytree(ledger, copy)
    (removed,) = copy.glob("*_2026-01-18_009")
    shutil.rmtree(removed)
    completeness = kpi(pilot_report(ReportOptions(modes=REPLAY, ledger=copy)), "completeness")
    assert completeness.status == "FAIL"
    assert completeness.detail == (
        "27/29 packs verify; ledger: sequence 9 missing from the ledger: deleted or never written"
    )
    # every pack still verifies on its own: the break names no pack
    assert completeness.failing_packs == [pack_id(TAMPERED_DAY), pack_id(MISPLACED_REVIEW_DAY)]


def test_unreadable_index_fails_every_compliance_kpi(
    pilot_fixtures: dict[str, Path], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    first = replay_day(pilot_fixtures, ledger, 1, tmp_path)
    review_pack(first, day_epoch(1) + 3600, 5)
    broken = replay_day(pilot_fixtures, ledger, 2, tmp_path)
    (broken / "evidence_pack.json").write_text("{not json", encoding="utf-8")
    report = pilot_report(ReportOptions(modes=REPLAY, ledger=ledger, since=date(2026, 1, 11)))
    assert report.packs == 1  # the unreadable pack has no date: never filtered out
    for key in ("sod", "scope", "completeness"):
        assert kpi(report, key).failing_packs == [broken.name]
    assert kpi(report, "review_time").status == "NO DATA"


def test_empty_or_missing_ledger_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackReadError, match="no replay evidence packs"):
        pilot_report(ReportOptions(modes=REPLAY, ledger=tmp_path / "empty"))
    with pytest.raises(UsageError, match="not a directory"):
        pilot_report(ReportOptions(modes=REPLAY, ledger=tmp_path / "missing"))


# --- the command ---------------------------------------------------------------------


@pytest.fixture
def in_ledger_parent(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the ledger's parent so the printed ledger path is stable."""
    monkeypatch.chdir(ledger.parent)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(day_epoch(31)))  # the generated-at time
    return Path(ledger.name)


def test_report_table_snapshot(
    runner: CliRunner, in_ledger_parent: Path, snapshot: SnapshotAssertion
) -> None:
    result = runner.invoke(app, ["pilot", "report", "--mode", "replay", str(in_ledger_parent)])
    assert result.exit_code == 1, result.output  # KPIs fail: exit 1
    assert result.stdout == snapshot
    assert result.stderr.splitlines() == [  # every non-zero exit: one line on stderr
        "aiops: pilot KPIs not met: Scope compliance FAIL, "
        "Evidence-pack completeness FAIL, Review coverage FAIL, Weekly drift FAIL"
    ]


def test_report_json_snapshot(
    runner: CliRunner, in_ledger_parent: Path, snapshot: SnapshotAssertion
) -> None:
    result = runner.invoke(
        app, ["pilot", "report", "--mode", "replay", str(in_ledger_parent), "--json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["kpis"][2]["failing_packs"] == [pack_id(TAMPERED_DAY), pack_id(22 + 4)]
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_report_html_snapshot(
    runner: CliRunner, in_ledger_parent: Path, snapshot: SnapshotAssertion, tmp_path: Path
) -> None:
    target = tmp_path / "pilot.html"
    result = runner.invoke(
        app, ["pilot", "report", "--mode", "replay", str(in_ledger_parent), "--html", str(target)]
    )
    assert result.exit_code == 1
    assert target.read_text(encoding="utf-8") == snapshot


def test_report_default_ledger_and_all_pass_exit_0(
    runner: CliRunner,
    pilot_fixtures: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = tmp_path / "evidence_packs"
    for day in range(1, 9):
        review_pack(replay_day(pilot_fixtures, ledger, day, tmp_path), day_epoch(day) + 3600, 3)
    result = runner.invoke(app, ["pilot", "report", "--mode", "replay", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["all_pass"] is True
    monkeypatch.setenv("AIOPS_PACKS_DIR", str(tmp_path / "elsewhere"))
    shutil.copytree(ledger, tmp_path / "elsewhere")
    assert runner.invoke(app, ["pilot", "report", "--mode", "replay"]).exit_code == 0


def test_report_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["pilot", "report", "--mode", "replay", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"aiops: error: ledger {tmp_path / 'nope'} is not a directory"
    result = runner.invoke(
        app, ["pilot", "report", "--mode", "replay", str(tmp_path), "--since", "last week"]
    )
    assert result.exit_code == 2
    assert "--since must be a date YYYY-MM-DD" in result.stderr
    result = runner.invoke(app, ["pilot", "report", "--mode", "replay", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: no replay evidence packs in")


def test_a_pack_dated_nonsense_fails_the_kpis_instead_of_crashing(runner: CliRunner) -> None:
    for _ in range(2):
        assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    first = sorted(Path("evidence_packs").iterdir())[0]
    index = first / "evidence_pack.json"
    data = json.loads(index.read_bytes())
    data["creation_timestamp"] = "[/x]"
    index.write_bytes(canonical_json(data))
    result = runner.invoke(app, ["pilot", "report", "--mode", "replay", "--json"])
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    kpis = {k["key"]: k for k in report["kpis"]}
    assert kpis["sod"]["failing_packs"] == [first.name]  # unreadable: never compliant
    assert report["first_day"] == report["last_day"] == "2026-01-10"
