"""Fallback across models: retries first, then the next model; every attempt kept."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from aiops.errors import EXIT_BLOCKED, EXIT_PROVIDER, ModelNotAllowedError
from aiops.governance.fallback import FallbackChain, Skipped, fallback_chain
from aiops.providers.base import ProviderCallError
from aiops.providers.fallback import (
    ALL_MODELS_FAILED,
    FailedModel,
    FallbackAlert,
    FallbackResult,
    complete_with_fallback,
)
from aiops.providers.retry import RetryingClient
from aiops.schemas.registry import FallbackPolicy
from tests.providers._fakes import (
    FakeClock,
    ScriptedClient,
    Step,
    exchange_for,
    failure,
    registry,
    request_for,
)

POLICY = FallbackPolicy(max_retries_per_model=2, jitter_seconds=0)


def _l2_chain(fallbacks: list[str] | None = None) -> FallbackChain:
    reg = registry()
    layer = reg.layer_mapping["L2"]
    if fallbacks is not None:
        layer = layer.model_copy(update={"fallbacks": fallbacks})
    return fallback_chain(
        reg,
        "L2",
        layer,
        primary_id="gpt-5.2-pro",
        critic_id="deepseek-r1",
        run_id="r",
        timestamp="t",
        at=datetime(2026, 11, 21, tzinfo=UTC),
    )


def _run(
    script: dict[str, list[Step]], chain: FallbackChain | None = None, alert: bool = True
) -> tuple[ScriptedClient, FallbackResult]:
    inner = ScriptedClient(script)
    clock = FakeClock()
    client = RetryingClient(
        inner, POLICY, sleep=clock.sleep, monotonic=clock.monotonic, rng=random.Random(0)
    )
    return inner, complete_with_fallback(
        client, chain or _l2_chain(), request_for, alert_on_fallback=alert
    )


def test_503_until_retries_run_out_then_fallback_succeeds() -> None:
    inner, result = _run(
        {
            "gpt-5.2-pro": [failure("server_error", http_status=503)],
            "gpt-5.2": [exchange_for("gpt-5.2")],
        }
    )
    assert inner.calls == ["gpt-5.2-pro"] * 3 + ["gpt-5.2"]
    assert result.candidate.model_id == "gpt-5.2" and result.fell_back
    assert result.candidate.sod.proposer_model_id == "gpt-5.2"
    assert [(a.model_id, a.http_status) for a in result.exchange.attempts] == [
        ("gpt-5.2-pro", 503),
        ("gpt-5.2-pro", 503),
        ("gpt-5.2-pro", 503),
        ("gpt-5.2", None),
    ]
    assert result.alert == FallbackAlert("gpt-5.2", (FailedModel("gpt-5.2-pro", "server_error"),))
    assert result.alert.message == (
        "fallback: gpt-5.2 answered after gpt-5.2-pro (server_error) failed"
    )
    assert result.skipped == ()


def test_fallback_is_silent_when_alerts_are_off() -> None:
    _, result = _run(
        {"gpt-5.2-pro": [failure("timeout")], "gpt-5.2": [exchange_for("gpt-5.2")]}, alert=False
    )
    assert result.fell_back and result.alert is None


def test_insufficient_quota_goes_straight_to_fallback() -> None:
    inner, result = _run(
        {
            "gpt-5.2-pro": [failure("insufficient_quota", http_status=429)],
            "gpt-5.2": [exchange_for("gpt-5.2")],
        }
    )
    assert inner.calls == ["gpt-5.2-pro", "gpt-5.2"]
    assert result.exchange.attempts[0].error_class == "insufficient_quota"


def test_refusal_fails_closed_without_fallback() -> None:
    inner = ScriptedClient(
        {
            "gpt-5.2-pro": [failure("refusal", retryable=False, fallback_ok=False)],
            "gpt-5.2": [exchange_for("gpt-5.2")],
        }
    )
    with pytest.raises(ProviderCallError) as caught:
        complete_with_fallback(
            RetryingClient(inner, POLICY, sleep=FakeClock().sleep),
            _l2_chain(),
            request_for,
            alert_on_fallback=True,
        )
    assert inner.calls == ["gpt-5.2-pro"]
    assert caught.value.error_class == "refusal"
    assert len(caught.value.attempts) == 1


def test_every_model_down_raises_exit_4_with_every_attempt() -> None:
    with pytest.raises(ProviderCallError) as caught:
        _run(
            {
                "gpt-5.2-pro": [failure("server_error", http_status=500)],
                "gpt-5.2": [failure("connection_error")],
            }
        )
    error = caught.value
    assert error.error_class == ALL_MODELS_FAILED
    assert error.exit_code == EXIT_PROVIDER
    assert [a.model_id for a in error.attempts] == ["gpt-5.2-pro"] * 3 + ["gpt-5.2"] * 3
    assert str(error).startswith(
        "all 2 model(s) failed: gpt-5.2-pro (server_error), gpt-5.2 (connection_error); "
        "last error: gpt-5.2 failed after 3 attempt(s): "
    )


def test_fallback_equal_to_critic_is_never_called() -> None:
    inner, result = _run(
        {
            "gpt-5.2-pro": [failure("server_error")],
            "deepseek-r1": [exchange_for("deepseek-r1")],
            "gpt-5.2": [exchange_for("gpt-5.2")],
        },
        chain=_l2_chain(["deepseek-r1", "gpt-5.2"]),
    )
    assert "deepseek-r1" not in inner.calls
    assert result.candidate.model_id == "gpt-5.2"
    assert [s.model_id for s in result.skipped] == ["deepseek-r1"]
    assert result.skipped[0].notice.startswith("skipped deepseek-r1: SoD FAIL")


def test_skips_and_the_fallback_alert_come_back_apart() -> None:
    # A repeated model and one equal to the critic are skipped; two models fail first.
    _, result = _run(
        {
            "gpt-5.2-pro": [failure("server_error", http_status=503)],
            "o3": [failure("insufficient_quota", http_status=429)],
            "gpt-5.2": [exchange_for("gpt-5.2")],
        },
        chain=_l2_chain(["gpt-5.2-pro", "deepseek-r1", "o3", "gpt-5.2"]),
    )
    assert [(s.model_id, s.reason.split(":")[0]) for s in result.skipped] == [
        ("gpt-5.2-pro", "already in the chain"),
        ("deepseek-r1", "SoD FAIL"),
    ]
    assert result.alert == FallbackAlert(
        "gpt-5.2",
        (FailedModel("gpt-5.2-pro", "server_error"), FailedModel("o3", "insufficient_quota")),
    )
    # The alert names only what failed, never what was skipped.
    assert "skipped" not in result.alert.message and "deepseek-r1" not in result.alert.message


def test_no_candidate_left_sends_nothing() -> None:
    inner = ScriptedClient({})
    chain = FallbackChain([], [Skipped("gpt-5.2", "SoD FAIL: proposer gpt-5.2 == critic gpt-5.2")])
    with pytest.raises(ModelNotAllowedError) as caught:
        complete_with_fallback(inner, chain, request_for, alert_on_fallback=True)
    assert caught.value.exit_code == EXIT_BLOCKED and inner.calls == []
    assert str(caught.value) == (
        "no model may be called: skipped gpt-5.2: SoD FAIL: proposer gpt-5.2 == critic gpt-5.2"
    )
