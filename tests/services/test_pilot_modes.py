"""A pilot that cannot be fooled: an outage on day 1, live runs, replays and dry-runs in
one ledger, scripted and interactive reviews. The KPIs count live packs only (unless
``--mode`` says otherwise), a FAILED pack is never the drift baseline nor a latency
sample, and replayed cost is never spend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.errors import PackReadError, UsageError
from aiops.schemas.pilot import PilotReport
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.conftest import FakeKeys
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply, error_body
from tests.support.pilot import day_epoch, review_pack, run_into_ledger
from tests.support.scripts import happy_path

LIVE = ["l2", "live", "--allow-network", "--yes"]
LEDGER = Path("evidence_packs")


@pytest.fixture
def mixed(runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys) -> dict[str, Path]:
    """Day 1: every provider refuses the key (a FAILED live pack). Days 2-3: live runs
    that answer, a replay and a dry-run beside them. Reviews: day 2 live at the prompt
    (5 min), day 3 live with --approve (no terminal), the outage at the prompt (2 min)."""
    loopback.script(RESPONSES_PATH, Reply(401, error_body("Incorrect API key provided.")))
    packs = {"outage": run_into_ledger(runner, LIVE, 1, expected=4)}
    loopback.reset()
    happy_path(loopback)
    packs["live2"] = run_into_ledger(runner, LIVE, 2)
    packs["replay2"] = run_into_ledger(runner, ["l2", "replay"], 2)
    loopback.reset()
    happy_path(loopback)
    packs["live3"] = run_into_ledger(runner, LIVE, 3)
    packs["dry3"] = run_into_ledger(runner, ["l2", "dry-run"], 3)
    review_pack(packs["outage"], day_epoch(1) + 600, 2.0)
    review_pack(packs["live2"], day_epoch(2) + 600, 5.0)
    review_pack(packs["live3"], day_epoch(3) + 600, 0.0, interactive=False)
    return packs


def label(pack: Path) -> str:
    return str(json.loads((pack / "evidence_pack.json").read_bytes())["evidence_pack_id"])


def test_live_only_by_default_and_the_outage_is_no_baseline(mixed: dict[str, Path]) -> None:
    report = pilot_report(ReportOptions(ledger=LEDGER))
    assert (report.modes, report.packs, report.packs_other_modes) == (["live"], 3, 2)
    assert report.baseline_pack_id == label(mixed["live2"])  # not the FAILED day 1
    assert [(r.mode, r.status) for r in report.pack_rows] == [
        ("live", "FAILED"),
        ("live", "COMPLETED"),
        ("live", "COMPLETED"),
    ]
    assert [d.drift_pct for d in report.days] == [None, 0.0, 0.0]
    assert report.drift_flagged_days == []
    # The refused calls of day 1 are no answers: the latency samples are the two answers.
    assert {(m.model_id, m.calls) for m in report.latency} == {
        ("gpt-5.2-pro", 2),
        ("deepseek-r1", 2),
    }
    # Spend is that of the live packs; the replay's recorded cost is not counted at all
    # (its mode is not counted), and the FAILED pack spent what its usage says (nothing).
    assert report.cost_total_usd == round(sum(r.cost_usd or 0.0 for r in report.pack_rows), 6)
    assert report.cost_total_usd > 0 and report.cost_not_spent_usd == 0.0
    review = {k.key: k for k in report.kpis}
    assert review["review_time"].value == 3.5  # median of 2 and 5: never the scripted 0
    assert review["review_time"].detail.startswith(
        "2 interactive reviews timed; 1 made without a terminal (not timed)"
    )
    assert (review["review_coverage"].value, review["review_coverage"].status) == (100.0, "PASS")
    # A 3-day pilot has no weekly drift check yet: no data, not a failure.
    assert review["drift"].status == "NO DATA" and report.all_pass


def test_replayed_cost_is_shown_apart_never_as_spend(mixed: dict[str, Path]) -> None:
    both = pilot_report(ReportOptions(ledger=LEDGER, modes=frozenset({"live", "replay"})))
    live = pilot_report(ReportOptions(ledger=LEDGER))
    assert both.packs == 4 and both.cost_total_usd == live.cost_total_usd
    assert both.cost_not_spent_usd > 0  # the replay's recorded cost
    replay_row = next(r for r in both.pack_rows if r.mode == "replay")
    assert replay_row.cost_usd is None and not replay_row.reviewed


def test_a_failed_pack_is_refused_as_baseline_and_in_drift(
    mixed: dict[str, Path], runner: CliRunner
) -> None:
    with pytest.raises(UsageError, match="a FAILED pack is never a drift baseline"):
        pilot_report(ReportOptions(ledger=LEDGER, baseline=mixed["outage"]))
    chosen = pilot_report(ReportOptions(ledger=LEDGER, baseline=mixed["live3"]))
    assert chosen.baseline_pack_id == label(mixed["live3"])
    result = runner.invoke(app, ["pilot", "drift", str(mixed["outage"]), str(mixed["live2"])])
    assert result.exit_code == 2
    assert "Regime" not in result.stdout
    assert result.stderr.startswith("aiops: error: ") and "has no proposer answer" in (
        result.stderr
    )


def test_report_command_exit_0_on_a_young_pilot_and_mode_choice(
    mixed: dict[str, Path], runner: CliRunner
) -> None:
    result = runner.invoke(app, ["pilot", "report", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["all_pass"] is True
    result = runner.invoke(app, ["pilot", "report", "--mode", "dry-run", "--json"])
    assert json.loads(result.stdout)["packs"] == 1
    result = runner.invoke(app, ["pilot", "report", "--mode", "nonsense"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "aiops: error: --mode must be live, record, replay or dry-run, got 'nonsense'"
    )


def test_no_live_pack_is_a_clear_error(runner: CliRunner) -> None:
    assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    with pytest.raises(PackReadError, match=r"no live evidence packs .*1 of other modes"):
        pilot_report(ReportOptions(ledger=LEDGER))


def test_report_rows_say_who_reviewed(mixed: dict[str, Path]) -> None:
    report: PilotReport = pilot_report(ReportOptions(ledger=LEDGER))
    assert [(r.reviewer, r.review_decision, r.interactive) for r in report.pack_rows] == [
        ("operator-a", "APPROVE", True),
        ("operator-a", "APPROVE", True),
        ("operator-a", "APPROVE", False),
    ]
    assert [r.critic_decision for r in report.pack_rows] == [None, "APPROVE", "APPROVE"]


def test_the_critic_column_is_the_decision_as_judged_not_the_critics_words(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """A verdict that says APPROVE but breaks the schema fails closed: the pack is
    BLOCKED and its critic decision is none, in the report as in the pack."""
    from tests.support.scripts import critic_handler, proposer_reply

    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, critic_handler(mutate=lambda verdict: {**verdict, "rationale": ""}))
    pack = run_into_ledger(runner, LIVE, 2, expected=2)
    critic = json.loads((pack / "critic_output.json").read_bytes())
    assert (critic["parsed"]["decision"], critic["decision"]) == ("APPROVE", None)
    (row,) = pilot_report(ReportOptions(ledger=LEDGER)).pack_rows
    assert (row.status, row.critic_decision) == ("BLOCKED", None)
