"""The call guard wires rate limits, budget and audit into every attempt."""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path

import pytest

from aiops.canonical import prompt_hash
from aiops.errors import BudgetExceededError, SpendLedgerError
from aiops.governance.budget import Reservation
from aiops.governance.call_guard import CallGuard
from aiops.providers.base import ProviderCallError, Usage
from aiops.providers.retry import RetryingClient
from aiops.providers.wire import wire_for
from tests.providers._fakes import (
    FakeClock,
    ScriptedClient,
    exchange_for,
    failure,
    registry,
    request_for,
)
from tests.support.fsyncs import FsyncRecorder
from tests.support.state import spend_ledger


def _client(inner: ScriptedClient, guard: CallGuard) -> RetryingClient:
    clock = FakeClock()
    return RetryingClient(
        inner,
        registry().fallback_policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=random.Random(0),
        before_attempt=guard.before_attempt,
        after_attempt=guard.after_attempt,
    )


def test_every_attempt_is_rate_limited_reserved_settled_and_audited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "test-key-" + secrets.token_hex(8)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    leaky = ProviderCallError(
        f"500 from upstream; sent with key {key}",
        error_class="server_error",
        retryable=True,
        http_status=500,
    )
    inner = ScriptedClient(
        {"gpt-5.2": [leaky, exchange_for("gpt-5.2", input_tokens=2000, output_tokens=1000)]}
    )
    slots: list[tuple[str, int]] = []

    def rate_limit(model_id: str, rpm: int, **_: object) -> float:
        slots.append((model_id, rpm))
        return 0.0

    guard = CallGuard(registry(), run_id="L2-r", layer_id="L2", rate_limit=rate_limit)
    exchange = _client(inner, guard).complete(request_for("gpt-5.2"))

    assert slots == [("gpt-5.2", 1000), ("gpt-5.2", 1000)]
    audit = [json.loads(x) for x in Path("logs/ai_model_calls.jsonl").read_text().splitlines()]
    assert [line["success"] for line in audit] == [False, True]
    # The failed attempt's hash is that of the body the wire format builds for it.
    body = wire_for(request_for("gpt-5.2").model.endpoint).build_body(request_for("gpt-5.2"))
    assert audit[0]["prompt_hash"] == prompt_hash(body)
    assert audit[1]["prompt_hash"].startswith("sha256:")
    assert key not in Path("logs/ai_model_calls.jsonl").read_text()
    assert "[REDACTED]" in audit[0]["error_message"]
    assert key not in repr(exchange.attempts)  # nor in the attempts bound for the pack
    expected = (2000 * 0.00175 + 1000 * 0.014) / 1000
    assert audit[1]["cost_usd"] == pytest.approx(expected)
    spend = [json.loads(x) for x in spend_ledger().read_text().splitlines()]
    assert [line["kind"] for line in spend] == ["reserve", "spend", "reserve", "spend"]
    assert spend[1]["cost_usd"] == 0 and spend[3]["cost_usd"] == pytest.approx(expected)
    assert guard.ledger.totals(guard.clock()).today_usd == pytest.approx(expected)
    assert len(exchange.attempts) == 2


def test_every_ledger_and_audit_line_is_fsynced_before_the_call_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit, spend = Path("logs/ai_model_calls.jsonl"), spend_ledger()
    fsyncs = FsyncRecorder(watch=[audit, spend]).install(monkeypatch)
    sent: list[int] = []

    def on_call(_model: str) -> None:  # the reservation is on disk before the request
        sent.append(len(fsyncs.of(spend)))

    inner = ScriptedClient({"gpt-5.2": [exchange_for("gpt-5.2")]}, on_call=on_call)
    guard = CallGuard(registry(), run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)
    _client(inner, guard).complete(request_for("gpt-5.2"))

    assert sent == [1]
    reserve, settle = fsyncs.of(spend)
    (logged,) = fsyncs.of(audit)
    assert [json.loads(x)["kind"] for x in settle.content.splitlines()] == ["reserve", "spend"]
    assert logged.content.endswith(b"\n") and json.loads(logged.content)["success"] is True
    assert {reserve.lockable, settle.lockable, logged.lockable} == {False}


def test_total_failure_leaves_an_audit_line_per_attempt() -> None:
    inner = ScriptedClient({"gpt-5.2": [failure("timeout")]})
    guard = CallGuard(registry(), run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)
    with pytest.raises(ProviderCallError):
        _client(inner, guard).complete(request_for("gpt-5.2"))
    lines = Path("logs/ai_model_calls.jsonl").read_text().splitlines()
    assert len(lines) == len(inner.calls) == 3
    assert guard.ledger.totals(guard.clock()).today_usd == 0.0  # nothing left reserved


def test_threshold_warning_reaches_the_guard() -> None:
    reg = registry()
    reg = reg.model_copy(
        update={
            "budget": reg.budget.model_copy(
                update={"daily_cost_limit_usd": 2.2, "alert_threshold_pct": 50}
            )
        }
    )
    inner = ScriptedClient({"gpt-5.2": [exchange_for("gpt-5.2")]})
    guard = CallGuard(reg, run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)
    _client(inner, guard).complete(request_for("gpt-5.2"))  # worst case ≈ $1.79
    assert guard.warnings and guard.warnings[0].startswith("budget: daily spend could reach")


def test_budget_refusal_on_a_retry_keeps_the_attempts_made() -> None:
    reg = registry()
    reg = reg.model_copy(
        update={"budget": reg.budget.model_copy(update={"daily_cost_limit_usd": 3.5})}
    )
    guard = CallGuard(reg, run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)

    def spend(amount: float) -> None:
        guard.ledger.settle(
            Reservation(f"other-{amount}", "L2-other", "L2", "gpt-5.2", 0.0),
            at=guard.clock(),
            usage=Usage(),
            cost=amount,
        )

    spend(1.5)  # earlier today; gpt-5.2's worst case (about $1.79) still fits in $3.50
    inner = ScriptedClient(
        {"gpt-5.2": [failure("server_error", http_status=500)]},
        on_call=lambda _m: spend(0.5),  # another run spends while this attempt runs
    )
    with pytest.raises(BudgetExceededError):
        _client(inner, guard).complete(request_for("gpt-5.2"))
    assert inner.calls == ["gpt-5.2"]  # the retry was refused before sending
    assert [a.http_status for a in guard.attempts] == [500]


def test_an_attempt_is_audited_even_when_its_spend_cannot_be_settled() -> None:
    """The call went out: the audit log must say so even if the spend ledger has become
    unwritable meanwhile (another disk filled up, the file was replaced)."""
    spend = spend_ledger()

    def break_the_ledger(_model: str) -> None:  # while the request is in flight
        spend.unlink()
        spend.mkdir()

    inner = ScriptedClient({"gpt-5.2": [exchange_for("gpt-5.2")]}, on_call=break_the_ledger)
    guard = CallGuard(registry(), run_id="L2-r", layer_id="L2", rate_limit=lambda *a, **k: 0.0)
    with pytest.raises(SpendLedgerError, match="Is a directory"):
        _client(inner, guard).complete(request_for("gpt-5.2"))
    (line,) = Path("logs/ai_model_calls.jsonl").read_text().splitlines()
    assert json.loads(line)["success"] is True
    assert len(guard.attempts) == 1  # and the pack will record it
