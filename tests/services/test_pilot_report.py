"""The pilot report over the synthetic 30-day ledger: every figure checked against what
tests/pilot_ledger.py built in."""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import date
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from aiops.cli import app
from aiops.errors import PackReadError, UsageError
from aiops.schemas.pilot import PilotReport
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.pilot_ledger import (
    DRIFT_WORDS,
    FALLBACK_DAY,
    MISPLACED_REVIEW_DAY,
    RECORDED_COST,
    RECORDED_COST_DAY,
    SCOPE_VIOLATION_DAY,
    SLOW_REVIEW_DAY,
    STRUCTURAL_DAY,
    TAMPERED_DAY,
    DaySpec,
    build_pilot_ledger,
    review_minutes,
    write_l2_pack,
)

PRO_COST = 2000 / 1000 * 0.021 + 5000 / 1000 * 0.168  # gpt-5.2-pro at registry prices
FALLBACK_COST = 2000 / 1000 * 0.00175 + 5000 / 1000 * 0.014  # gpt-5.2
# Day 15: 40 summary words substituted, "on"->"off", "3"->"4", "recession"->"policy error"
# (one token replaced by two) and three trigger tokens inserted: of the baseline's 200
# tokens 157 still match, and the current output has 204.
STRUCTURAL_DRIFT = round(100 * (1 - 2 * 157 / (200 + 204)), 2)
# Day 12 appends {"side":"buy","symbol":"ES","type":"OrderParameters"}: six tokens.
VIOLATION_DRIFT = round(100 * (1 - 2 * 200 / (200 + 206)), 2)


def pack_id(day: int) -> str:
    return f"EVP-L2-{date.fromordinal(date(2026, 1, 9).toordinal() + day).isoformat()}-{day:03d}"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pilot") / "ledger"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AIOPS_CONFIG_DIR", "AIOPS_PACKS_DIR"):
            mp.delenv(name, raising=False)
        build_pilot_ledger(root)
    return root


@pytest.fixture(scope="module")
def report(ledger: Path) -> PilotReport:
    return pilot_report(ReportOptions(ledger=ledger))


def kpi(report: PilotReport, key: str):
    return next(k for k in report.kpis if k.key == key)


def test_kpis_match_what_the_ledger_holds(report: PilotReport) -> None:
    assert report.packs == 30 and not report.all_pass
    assert [(k.key, k.status) for k in report.kpis] == [
        ("sod", "PASS"),
        ("scope", "FAIL"),
        ("completeness", "FAIL"),
        ("review_time", "PASS"),
        ("drift", "FAIL"),
    ]
    assert kpi(report, "sod").value == "100.00 %"
    scope = kpi(report, "scope")
    assert (scope.value, scope.failing_packs) == ("96.67 %", [pack_id(SCOPE_VIOLATION_DAY)])
    completeness = kpi(report, "completeness")
    assert completeness.value == "93.33 %"
    # the pack edited after the fact, and the one holding another pack's review
    assert completeness.failing_packs == [pack_id(TAMPERED_DAY), pack_id(MISPLACED_REVIEW_DAY)]


def test_median_review_time_counts_only_valid_reviews(report: PilotReport) -> None:
    built = [m for d in range(1, 31) if (m := review_minutes(d)) is not None]
    assert len(built) == 25
    review = kpi(report, "review_time")
    assert review.value == f"{statistics.median(built):.2f} min" == "6.00 min"
    assert review.detail == (
        f"25/30 packs reviewed; 1 invalid (not counted); 1 over 15 min: {pack_id(SLOW_REVIEW_DAY)}"
    )


def test_weekly_drift_checks_days_8_15_22_29_against_day_1(report: PilotReport) -> None:
    drift = kpi(report, "drift")
    assert drift.value == f"{STRUCTURAL_DRIFT:.2f} % max" == "22.28 % max"
    assert drift.failing_packs == [pack_id(STRUCTURAL_DAY)]
    assert drift.detail == (
        "week 1: 0.00 % (2026-01-17); week 2: 22.28 % (2026-01-24); "
        "week 3: 0.00 % (2026-01-31); week 4: 4.00 % (2026-02-07)"
    )
    assert report.baseline_pack_id == pack_id(1)


def test_daily_drift_series_is_exact(report: PilotReport) -> None:
    expected = {day: words / 2 for day, words in DRIFT_WORDS.items()}  # 200-token baseline
    expected[STRUCTURAL_DAY] = STRUCTURAL_DRIFT
    expected[SCOPE_VIOLATION_DAY] = VIOLATION_DRIFT
    assert [d.drift_pct for d in report.days] == [expected.get(day, 0.0) for day in range(1, 31)]
    # above 10 %: day 10 (24 words, 12 %) and day 15; only day 15 is a weekly check
    assert report.drift_flagged_days == ["2026-01-19", "2026-01-24"]


def test_fallback_cost_and_latency(report: PilotReport) -> None:
    assert (report.fallback_packs, report.fallback_rate_pct) == (1, 3.33)
    costs = [PRO_COST] * 30
    costs[FALLBACK_DAY - 1] = FALLBACK_COST
    costs[RECORDED_COST_DAY - 1] = RECORDED_COST
    assert [d.cost_usd for d in report.days] == [round(c, 6) for c in costs]
    assert report.cost_total_usd == round(sum(costs), 6) == 26.2695
    assert report.cost_per_day_usd == round(sum(costs) / 30, 6) == 0.87565
    assert report.unpriced_calls == 0
    # Proposer latency is 1000 x day ms, the critic's 500 + 10 x day (no critic on day 12).
    # Nearest rank over 29 values: p50 is the 15th, p95 the 28th smallest.
    assert [(m.model_id, m.calls, m.p50_ms, m.p95_ms) for m in report.latency] == [
        ("deepseek-r1", 29, 660.0, 790.0),
        ("gpt-5.2", 1, 20000.0, 20000.0),
        ("gpt-5.2-pro", 29, 15000.0, 29000.0),
    ]
    day20 = report.days[FALLBACK_DAY - 1]
    assert day20.latency_ms == {"deepseek-r1": 700.0, "gpt-5.2": 20000.0}


def test_since_keeps_the_day_one_baseline(ledger: Path) -> None:
    report = pilot_report(ReportOptions(ledger=ledger, since=date(2026, 1, 25)))
    assert report.packs == 15 and report.first_day == "2026-01-25"
    assert report.baseline_pack_id == pack_id(1)
    drift = kpi(report, "drift")
    assert (drift.status, drift.value) == ("PASS", "4.00 % max")
    assert drift.detail == "week 3: 0.00 % (2026-01-31); week 4: 4.00 % (2026-02-07)"
    assert kpi(report, "scope").status == "PASS"


def test_injected_verifier_decides_completeness(ledger: Path) -> None:
    seen: list[str] = []

    def verify(pack_dir: Path) -> bool:
        seen.append(pack_dir.name)
        return True

    report = pilot_report(ReportOptions(ledger=ledger), verify=verify, verifier_name="verify-pack")
    assert len(seen) == 30
    assert kpi(report, "completeness").status == "PASS"
    assert report.verifier == "verify-pack"


def test_unreadable_index_fails_every_compliance_kpi(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    write_l2_pack(ledger, DaySpec(day=1, review_minutes=5))
    broken = write_l2_pack(ledger, DaySpec(day=2))
    (broken / "evidence_pack.json").write_text("{not json", encoding="utf-8")
    report = pilot_report(ReportOptions(ledger=ledger, since=date(2026, 1, 11)))
    assert report.packs == 1  # the unreadable pack has no date: never filtered out
    for key in ("sod", "scope", "completeness"):
        assert kpi(report, key).failing_packs == [broken.name]
    assert kpi(report, "review_time").status == "NO DATA"


def test_empty_or_missing_ledger_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackReadError, match="no evidence packs"):
        pilot_report(ReportOptions(ledger=tmp_path / "empty"))
    with pytest.raises(UsageError, match="not a directory"):
        pilot_report(ReportOptions(ledger=tmp_path / "missing"))


# --- the command ---------------------------------------------------------------------


@pytest.fixture
def in_ledger_parent(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the ledger's parent so the printed ledger path is stable."""
    monkeypatch.chdir(ledger.parent)
    return Path(ledger.name)


def test_report_table_snapshot(runner, in_ledger_parent: Path, snapshot) -> None:
    result = runner.invoke(app, ["pilot", "report", str(in_ledger_parent)])
    assert result.exit_code == 1, result.output  # KPIs fail: exit 1
    assert result.stdout == snapshot


def test_report_json_snapshot(runner, in_ledger_parent: Path, snapshot) -> None:
    result = runner.invoke(app, ["pilot", "report", str(in_ledger_parent), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["kpis"][2]["failing_packs"] == [pack_id(TAMPERED_DAY), pack_id(22 + 4)]
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_report_default_ledger_and_all_pass_exit_0(runner, tmp_path: Path, monkeypatch) -> None:
    ledger = tmp_path / "evidence_packs"
    for day in range(1, 9):
        write_l2_pack(ledger, DaySpec(day=day, review_minutes=3))
    result = runner.invoke(app, ["pilot", "report", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["all_pass"] is True
    monkeypatch.setenv("AIOPS_PACKS_DIR", str(tmp_path / "elsewhere"))
    shutil.copytree(ledger, tmp_path / "elsewhere")
    assert runner.invoke(app, ["pilot", "report"]).exit_code == 0


def test_report_usage_errors_exit_2(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["pilot", "report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"aiops: error: ledger {tmp_path / 'nope'} is not a directory"
    result = runner.invoke(app, ["pilot", "report", str(tmp_path), "--since", "last week"])
    assert result.exit_code == 2
    assert "--since must be a date YYYY-MM-DD" in result.stderr
    result = runner.invoke(app, ["pilot", "report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: no evidence packs in")
