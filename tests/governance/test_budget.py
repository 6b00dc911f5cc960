"""Budgets: worst-case estimates, the spend ledger, refusal before anything is sent."""

from __future__ import annotations

import errno
import json
import math
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.clock import now
from aiops.errors import EXIT_BLOCKED, BudgetExceededError, SpendLedgerError
from aiops.governance.budget import (
    BYTES_PER_TOKEN,
    REQUEST_OVERHEAD_TOKENS,
    SpendLedger,
    SpendTotals,
    actual_cost,
    budget_status,
    check_budget,
    estimate_input_tokens,
    estimate_tokens,
    worst_case_cost,
)
from aiops.governance.call_guard import CallGuard
from aiops.governance.fallback import fallback_chain
from aiops.providers.base import ModelRequest, Usage
from aiops.providers.fallback import complete_with_fallback
from aiops.providers.retry import RetryingClient
from aiops.schemas.registry import Budget
from tests._procs import run_concurrently
from tests.providers._fakes import FakeClock, ScriptedClient, exchange_for, registry, request_for
from tests.support.state import spend_ledger

BUDGET = Budget(daily_cost_limit_usd=10, monthly_cost_limit_usd=100, alert_threshold_pct=80)
AT = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _reserve(ledger: SpendLedger, estimate: float, at: datetime = AT) -> None:
    ledger.reserve(estimate, at=at, run_id="L2-r", layer_id="L2", model_id="gpt-5.2")


# --- estimates ---------------------------------------------------------------------


def test_token_estimate_is_bytes_over_three_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 2
    assert estimate_tokens("é" * 3) == 2  # 6 UTF-8 bytes: multi-byte text counts more
    request = request_for("gpt-5.2-pro", user_prompt="x" * 3000)
    expected = (
        math.ceil(len(request.system_prompt.encode()) / BYTES_PER_TOKEN)
        + 1000
        + math.ceil(len('{"type":"object"}') / BYTES_PER_TOKEN)
        + REQUEST_OVERHEAD_TOKENS
    )
    assert estimate_input_tokens(request) == expected


def test_worst_case_prices_full_output_allowance_at_registry_rates() -> None:
    request = request_for("gpt-5.2-pro", user_prompt="x" * 3000)
    tokens_in = estimate_input_tokens(request)
    # gpt-5.2-pro: $0.021 / 1k in, $0.168 / 1k out, 128,000 output tokens (reasoning included)
    assert worst_case_cost(request) == pytest.approx((tokens_in * 0.021 + 128_000 * 0.168) / 1000)
    capped = ModelRequest(**{**request.__dict__, "max_output_tokens": 1000})
    assert worst_case_cost(capped) == pytest.approx((tokens_in * 0.021 + 1000 * 0.168) / 1000)
    over = ModelRequest(**{**request.__dict__, "max_output_tokens": 10**9})
    assert worst_case_cost(over) == worst_case_cost(request)  # never past the model's cap


def test_actual_cost_from_usage() -> None:
    model = registry().models["gpt-5.2"]
    usage = Usage(input_tokens=2000, output_tokens=1000, reasoning_tokens=600)
    # reasoning tokens are inside output_tokens: not billed twice
    assert actual_cost(model, usage) == pytest.approx((2000 * 0.00175 + 1000 * 0.014) / 1000)


# --- decisions ---------------------------------------------------------------------


def test_within_budget_no_warning() -> None:
    status = check_budget(BUDGET, SpendTotals(1.0, 10.0), 2.0)
    assert status.warnings == ()
    assert (status.remaining_today_usd, status.remaining_month_usd) == (9.0, 90.0)
    assert status.within_budget


def test_alert_threshold_warns() -> None:
    status = check_budget(BUDGET, SpendTotals(6.0, 10.0), 2.0)  # 8.0 of 10 = 80 %
    assert status.warnings == ("budget: daily spend could reach $8.00 of $10.00 (alert at 80 %)",)


def test_exactly_at_limit_is_allowed_beyond_is_refused() -> None:
    check_budget(BUDGET, SpendTotals(8.0, 8.0), 2.0)
    with pytest.raises(BudgetExceededError) as caught:
        check_budget(BUDGET, SpendTotals(8.0, 8.0), 2.01)
    assert caught.value.exit_code == EXIT_BLOCKED
    assert str(caught.value) == (
        "budget: this call could cost up to $2.01; daily spend is $8.00 of $10.00 "
        "($2.00 left); refused before sending"
    )


def test_monthly_limit_refuses_even_with_daily_room() -> None:
    with pytest.raises(BudgetExceededError, match="monthly spend is \\$99.00 of \\$100.00"):
        check_budget(BUDGET, SpendTotals(0.0, 99.0), 2.0)


def test_status_for_banner_never_raises() -> None:
    status = budget_status(BUDGET, SpendTotals(9.0, 9.0), 5.0)
    assert not status.within_budget and status.remaining_today_usd == 1.0
    assert status.summary() == (
        "worst case $5.00; budget left today $1.00 of $10.00, this month $91.00 of $100.00"
    )


# --- ledger ------------------------------------------------------------------------


def test_reserve_then_settle_replaces_estimate_with_actual(tmp_path: Path) -> None:
    ledger = SpendLedger(BUDGET)
    assert ledger.path == spend_ledger()
    reservation, status = ledger.reserve(
        4.0, at=AT, run_id="L2-r", layer_id="L2", model_id="gpt-5.2"
    )
    assert status.spent_today_usd == 0.0
    # held while the call runs, and said to be held until it lapses
    assert ledger.totals(AT) == SpendTotals(4.0, 4.0, 4.0, 1, AT + timedelta(hours=1))
    ledger.settle(reservation, at=AT, usage=Usage(100, 50, 20), cost=0.25)
    assert ledger.totals(AT) == SpendTotals(0.25, 0.25)
    reserve_line, spend_line = (json.loads(x) for x in ledger.path.read_text().splitlines())
    assert reserve_line["kind"] == "reserve" and reserve_line["estimate_usd"] == 4.0
    assert spend_line == {
        "kind": "spend", "id": reservation.id, "timestamp_utc": "2026-01-10T12:00:00+00:00",
        "run_id": "L2-r", "layer_id": "L2", "model_id": "gpt-5.2", "input_tokens": 100,
        "output_tokens": 50, "reasoning_tokens": 20, "cost_usd": 0.25,
    }  # fmt: skip


def test_the_banner_explains_a_reservation_left_by_an_interrupted_run() -> None:
    ledger = SpendLedger(BUDGET, reservation_ttl_s=1800)
    _reserve(ledger, 3.0)  # never settled: the run was killed
    status = ledger.status(1.0, AT)
    assert status.summary() == (
        "worst case $1.00; budget left today $7.00 of $10.00, this month $97.00 of $100.00 "
        "($3.00 of it held by 1 open reservation of runs interrupted or still running; each "
        "lapses when its run's deadline has passed, the last at 2026-01-10T12:30:00+00:00)"
    )
    lapsed = ledger.status(1.0, AT + timedelta(minutes=30))
    assert lapsed.held_count == 0 and "held" not in lapsed.summary()
    assert lapsed.remaining_today_usd == 10.0


def test_every_working_directory_counts_against_one_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        _reserve(SpendLedger(BUDGET), 4.0)
    assert SpendLedger(BUDGET).totals(AT).today_usd == 8.0
    assert not (tmp_path / "a" / "logs").exists()


def test_the_registry_may_name_the_state_directory(tmp_path: Path) -> None:
    desk = Budget(
        daily_cost_limit_usd=10, monthly_cost_limit_usd=100, state_dir=str(tmp_path / "desk")
    )
    assert SpendLedger(desk).path == tmp_path / "desk" / "logs" / "spend_ledger.jsonl"
    with pytest.raises(ValueError, match="must be an absolute path"):
        Budget(daily_cost_limit_usd=10, monthly_cost_limit_usd=100, state_dir="desk")


def test_state_directory_defaults_to_local_state_without_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert SpendLedger(BUDGET).path == tmp_path / "home/.local/state/aiops/logs/spend_ledger.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # not absolute: ignored
    assert SpendLedger(BUDGET).path == tmp_path / "home/.local/state/aiops/logs/spend_ledger.jsonl"


def test_today_and_month_follow_the_run_clock(tmp_path: Path) -> None:
    ledger = SpendLedger(BUDGET)
    yesterday, last_month = AT - timedelta(days=1), AT - timedelta(days=31)
    for when, cost in ((AT, 1.0), (yesterday, 2.0), (last_month, 4.0)):
        reservation, _ = ledger.reserve(0.0, at=when, run_id="r", layer_id="L2", model_id="m")
        ledger.settle(reservation, at=when, usage=Usage(), cost=cost)
    assert ledger.totals(AT) == SpendTotals(today_usd=1.0, month_usd=3.0)
    assert ledger.totals(now()) == SpendTotals(today_usd=1.0, month_usd=3.0)  # SOURCE_DATE_EPOCH


def test_refusal_before_anything_is_written_or_held() -> None:
    ledger = SpendLedger(BUDGET)
    _reserve(ledger, 9.0)
    with pytest.raises(BudgetExceededError):
        _reserve(ledger, 2.0)
    assert len(ledger.path.read_text().splitlines()) == 1  # the refused call holds nothing


def test_unsettled_reservation_expires(tmp_path: Path) -> None:
    ledger = SpendLedger(BUDGET, reservation_ttl_s=600)
    _reserve(ledger, 9.0)
    assert ledger.totals(AT + timedelta(seconds=599)).today_usd == 9.0
    assert ledger.totals(AT + timedelta(seconds=601)).today_usd == 0.0


def test_corrupt_ledger_refuses_with_the_line_number() -> None:
    ledger = SpendLedger(BUDGET)
    _reserve(ledger, 1.0)
    with ledger.path.open("a") as handle:
        handle.write('{"kind": "spend"}\n')
    with pytest.raises(SpendLedgerError, match="line 2 is not a spend record") as caught:
        _reserve(ledger, 1.0)
    assert caught.value.exit_code == EXIT_BLOCKED
    ledger.path.write_text("not json\n")
    with pytest.raises(SpendLedgerError, match="line 1 is not JSON"):
        ledger.totals(AT)


def test_a_reservation_that_cannot_be_made_durable_refuses_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(SpendLedgerError, match="Input/output error.*refusing") as caught:
        _reserve(SpendLedger(BUDGET), 1.0)
    assert caught.value.exit_code == EXIT_BLOCKED


def test_tracking_disabled_keeps_no_ledger_but_still_caps_one_call() -> None:
    ledger = SpendLedger(BUDGET.model_copy(update={"tracking_enabled": False}))
    _reserve(ledger, 9.0)
    _reserve(ledger, 9.0)
    assert not ledger.path.exists()
    with pytest.raises(BudgetExceededError):
        _reserve(ledger, 11.0)


RESERVER = """
from datetime import UTC, datetime
from aiops.errors import BudgetExceededError
from aiops.governance.budget import SpendLedger
from aiops.schemas.registry import Budget
ledger = SpendLedger(Budget(daily_cost_limit_usd=10, monthly_cost_limit_usd=100))
granted = 0
start()
for n in range(40):
    try:
        ledger.reserve(0.125, at=datetime(2026, 1, 10, tzinfo=UTC), run_id=f"w{worker}",
                       layer_id="L2", model_id="gpt-5.2")
        granted += 1
    except BudgetExceededError:
        pass
print(granted)
"""


def test_eight_processes_never_reserve_past_the_limit(tmp_path: Path) -> None:
    granted = run_concurrently(RESERVER, 8, tmp_path)
    assert sum(int(out) for out in granted) == 80  # 320 tries at $0.125 against a $10 day
    lines = spend_ledger().read_text().splitlines()
    assert len(lines) == 80 and all(json.loads(line)["kind"] == "reserve" for line in lines)


# --- refusal before sending, end to end through the client stack ---------------------


def test_exhausted_budget_sends_zero_requests() -> None:
    reg = registry()
    reg = reg.model_copy(update={"budget": BUDGET.model_copy(update={"daily_cost_limit_usd": 1})})
    inner = ScriptedClient(
        {"gpt-5.2-pro": [exchange_for("gpt-5.2-pro")], "gpt-5.2": [exchange_for("gpt-5.2")]}
    )
    guard = CallGuard(reg, run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)
    clock = FakeClock()
    client = RetryingClient(
        inner,
        reg.fallback_policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=random.Random(0),
        before_attempt=guard.before_attempt,
        after_attempt=guard.after_attempt,
    )
    chain = fallback_chain(
        reg,
        "L2",
        reg.layer_mapping["L2"],
        primary_id="gpt-5.2-pro",
        critic_id="deepseek-r1",
        run_id="L2-r",
        timestamp="t",
        at=AT,
    )
    with pytest.raises(BudgetExceededError) as caught:
        complete_with_fallback(client, chain, request_for, alert_on_fallback=True)
    assert caught.value.exit_code == EXIT_BLOCKED
    assert inner.calls == []  # nothing sent, and no fallback tried either
    assert not Path("logs/ai_model_calls.jsonl").exists()


def test_a_line_counts_on_its_utc_day_whatever_offset_it_is_written_with() -> None:
    """aiops writes +00:00; a line added by hand or another tool with a local offset
    still counts on its UTC day, and one without an offset is refused, not guessed."""
    ledger = SpendLedger(BUDGET)
    local = {
        "kind": "spend", "id": "x", "run_id": "r", "layer_id": "L2", "model_id": "m",
        "cost_usd": 3.0, "timestamp_utc": "2026-01-09T20:30:00-03:30",  # St John's
    }  # fmt: skip
    ledger.path.parent.mkdir(parents=True)
    ledger.path.write_text(json.dumps(local) + "\n")
    assert ledger.totals(AT).today_usd == 3.0  # 2026-01-10T00:00:00Z: today, not yesterday
    assert ledger.totals(AT - timedelta(days=1)).today_usd == 0.0
    ledger.path.write_text(json.dumps({**local, "timestamp_utc": "2026-01-10T00:00:00"}) + "\n")
    with pytest.raises(SpendLedgerError, match="line 1: timestamp_utc has no UTC offset"):
        _reserve(ledger, 1.0)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/St_Johns"])
def test_the_budget_day_is_the_utc_day_whatever_tz_says(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        ledger = SpendLedger(BUDGET)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1768089599")  # 2026-01-10T23:59:59Z
        reservation, _ = ledger.reserve(0.0, at=now(), run_id="r", layer_id="L2", model_id="m")
        ledger.settle(reservation, at=now(), usage=Usage(), cost=6.0)
        assert ledger.totals(now()).today_usd == 6.0
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1768089600")  # one second later: a new day
        assert ledger.totals(now()) == SpendTotals(today_usd=0.0, month_usd=6.0)
        assert json.loads(ledger.path.read_text().splitlines()[-1])["timestamp_utc"] == (
            "2026-01-10T23:59:59+00:00"
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
