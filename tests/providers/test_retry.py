"""Retries: retry-after parsing, backoff, deadline, never-retry classes, attempts."""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from aiops.errors import EXIT_PROVIDER
from aiops.providers.base import Attempt, Exchange, ModelRequest, ProviderCallError
from aiops.providers.retry import (
    DEADLINE_EXCEEDED,
    MAX_RETRY_AFTER_SECONDS,
    AfterAttempt,
    BeforeAttempt,
    Deadline,
    RetryingClient,
    backoff_delay,
    parse_retry_after,
)
from aiops.schemas.registry import FallbackPolicy
from tests.providers._fakes import FakeClock, ScriptedClient, exchange_for, failure, request_for

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)
NO_JITTER = FallbackPolicy(
    max_retries_per_model=2,
    backoff_initial_seconds=1.0,
    backoff_max_seconds=30.0,
    jitter_seconds=0.0,
)


# --- parse_retry_after -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "1"}, 1.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms is preferred
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # bad ms falls back
        ({"retry-after": format_datetime(NOW + timedelta(seconds=42), usegmt=True)}, 42.0),
        ({"retry-after": "Sat, 10 Jan 2026 12:00:05 GMT"}, 5.0),
        ({"retry-after": format_datetime(NOW - timedelta(hours=1), usegmt=True)}, 0.0),
        ({"retry-after": "99999"}, MAX_RETRY_AFTER_SECONDS),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "-1"}, None),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected


def test_parse_retry_after_cap_is_adjustable() -> None:
    assert parse_retry_after({"retry-after": "120"}, NOW, cap_s=60) == 60


# --- backoff_delay -----------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    policy = FallbackPolicy(backoff_initial_seconds=1, backoff_max_seconds=5, jitter_seconds=0)
    rng = random.Random(0)
    assert [backoff_delay(n, None, policy, rng) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert backoff_delay(10_000, None, policy, rng) == 5  # no overflow on silly attempts


def test_backoff_jitter_stays_within_bounds() -> None:
    policy = FallbackPolicy(backoff_initial_seconds=1, backoff_max_seconds=5, jitter_seconds=0.5)
    rng = random.Random(7)
    delays = [backoff_delay(1, None, policy, rng) for _ in range(200)]
    assert all(1.0 <= d <= 1.5 for d in delays)
    assert len(set(delays)) > 100  # actually random, not a constant


def test_backoff_honours_retry_after_as_minimum_capped() -> None:
    policy = FallbackPolicy(backoff_initial_seconds=1, backoff_max_seconds=30, jitter_seconds=0)
    rng = random.Random(0)
    assert backoff_delay(1, 7.0, policy, rng) == 7.0  # server asks for more than backoff
    assert backoff_delay(3, 0.5, policy, rng) == 4.0  # backoff already longer
    assert backoff_delay(1, 500.0, policy, rng) == 30.0  # capped


# --- RetryingClient ----------------------------------------------------------------


def _client(
    script: ScriptedClient,
    clock: FakeClock,
    policy: FallbackPolicy = NO_JITTER,
    *,
    deadline: Deadline | None = None,
    before_attempt: BeforeAttempt | None = None,
    after_attempt: AfterAttempt | None = None,
) -> RetryingClient:
    return RetryingClient(
        script,
        policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=random.Random(1),
        deadline=deadline,
        before_attempt=before_attempt,
        after_attempt=after_attempt,
    )


def test_500_then_200_succeeds_with_both_attempts_recorded() -> None:
    clock = FakeClock()
    inner = ScriptedClient(
        {"gpt-5.2": [failure("server_error", http_status=500), exchange_for("gpt-5.2")]}
    )
    exchange = _client(inner, clock).complete(request_for("gpt-5.2"))
    assert inner.calls == ["gpt-5.2", "gpt-5.2"]
    assert clock.sleeps == [1.0]
    first, second = exchange.attempts
    assert (first.model_id, first.http_status, first.error_class) == (
        "gpt-5.2",
        500,
        "server_error",
    )
    assert first.retry_delay_ms == 1000
    assert first.endpoint == "responses"
    assert (second.http_status, second.error_class, second.latency_ms) == (None, None, 7)


def test_429_retry_after_is_honoured_as_minimum() -> None:
    clock = FakeClock()
    inner = ScriptedClient(
        {
            "gpt-5.2": [
                failure("rate_limit", http_status=429, retry_after_s=6.0),
                exchange_for("gpt-5.2"),
            ]
        }
    )
    _client(inner, clock).complete(request_for("gpt-5.2"))
    assert clock.sleeps == [6.0]


def test_retries_run_out_and_the_error_carries_every_attempt() -> None:
    clock = FakeClock()
    inner = ScriptedClient({"gpt-5.2": [failure("server_error", http_status=503)]})
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, clock).complete(request_for("gpt-5.2"))
    error = caught.value
    assert len(inner.calls) == 3  # 1 + max_retries_per_model
    assert clock.sleeps == [1.0, 2.0]
    assert [a.retry_delay_ms for a in error.attempts] == [1000, 2000, 0]
    assert [a.http_status for a in error.attempts] == [503, 503, 503]
    assert error.error_class == "server_error" and error.fallback_ok
    assert error.exit_code == EXIT_PROVIDER
    assert "gpt-5.2 failed after 3 attempt(s)" in str(error)


def test_zero_retries_means_one_attempt() -> None:
    clock = FakeClock()
    inner = ScriptedClient({"gpt-5.2": [failure("timeout")]})
    policy = NO_JITTER.model_copy(update={"max_retries_per_model": 0})
    with pytest.raises(ProviderCallError):
        _client(inner, clock, policy).complete(request_for("gpt-5.2"))
    assert len(inner.calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    ("error_class", "status", "fallback_ok"),
    [
        ("bad_request", 400, True),
        ("authentication", 401, True),
        ("permission", 403, True),
        ("not_found", 404, True),
        ("insufficient_quota", 429, True),
        ("refusal", 200, False),
    ],
)
def test_never_retried_even_when_marked_retryable(
    error_class: str, status: int, fallback_ok: bool
) -> None:
    clock = FakeClock()
    inner = ScriptedClient(
        {
            "gpt-5.2": [
                failure(error_class, http_status=status, fallback_ok=fallback_ok),
                exchange_for("gpt-5.2"),
            ]
        }
    )
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, clock).complete(request_for("gpt-5.2"))
    assert inner.calls == ["gpt-5.2"]
    assert clock.sleeps == []
    assert caught.value.error_class == error_class
    assert caught.value.fallback_ok is fallback_ok
    assert len(caught.value.attempts) == 1


def test_non_retryable_flag_is_respected() -> None:
    clock = FakeClock()
    inner = ScriptedClient({"gpt-5.2": [failure("malformed_response", retryable=False)]})
    with pytest.raises(ProviderCallError):
        _client(inner, clock).complete(request_for("gpt-5.2"))
    assert inner.calls == ["gpt-5.2"]


def test_deadline_stops_retries_before_sleeping_past_it() -> None:
    clock = FakeClock()
    inner = ScriptedClient({"gpt-5.2": [failure("rate_limit", http_status=429, retry_after_s=20)]})
    deadline = Deadline(10.0, clock.monotonic)
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, clock, deadline=deadline).complete(request_for("gpt-5.2"))
    assert inner.calls == ["gpt-5.2"] and clock.sleeps == []
    assert caught.value.error_class == DEADLINE_EXCEEDED
    assert caught.value.fallback_ok is False
    assert [a.http_status for a in caught.value.attempts] == [429]


def test_expired_deadline_sends_nothing() -> None:
    clock = FakeClock()
    inner = ScriptedClient({"gpt-5.2": [exchange_for("gpt-5.2")]})
    deadline = Deadline(5.0, clock.monotonic)
    clock.now += 6
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, clock, deadline=deadline).complete(request_for("gpt-5.2"))
    assert inner.calls == []
    assert caught.value.error_class == DEADLINE_EXCEEDED


def test_slow_attempts_use_up_the_deadline() -> None:
    clock = FakeClock()

    def slow(_model: str) -> None:
        clock.now += 4  # each attempt takes 4 s of a 10 s deadline

    inner = ScriptedClient({"gpt-5.2": [failure("timeout")]}, on_call=slow)
    deadline = Deadline(10.0, clock.monotonic)
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, clock, deadline=deadline).complete(request_for("gpt-5.2"))
    # 4 s + 1 s wait + 4 s = 9 s; the next 2 s wait would pass the deadline.
    assert len(inner.calls) == 2 and clock.sleeps == [1.0]
    assert caught.value.error_class == DEADLINE_EXCEEDED
    assert [a.latency_ms for a in caught.value.attempts] == [4000, 4000]


def test_inner_attempt_records_are_kept() -> None:
    clock = FakeClock()
    own = Attempt(
        "gpt-5.2", "https://api.example.test/v1/responses", 502, "server_error", "bad gateway", 12
    )
    error = failure("server_error", http_status=502)
    error.attempts = [own]
    inner = ScriptedClient({"gpt-5.2": [error, exchange_for("gpt-5.2")]})
    exchange = _client(inner, clock).complete(request_for("gpt-5.2"))
    assert exchange.attempts[0].endpoint == "https://api.example.test/v1/responses"
    assert exchange.attempts[0].latency_ms == 12
    assert exchange.attempts[0].retry_delay_ms == 1000


def test_hooks_see_every_attempt_and_may_stop_the_call() -> None:
    clock = FakeClock()
    before: list[str] = []
    after: list[tuple[int | None, bool]] = []

    def before_attempt(request: ModelRequest) -> None:
        before.append(request.model_id)
        if len(before) == 3:
            raise RuntimeError("budget says no")

    def after_attempt(_r: ModelRequest, attempt: Attempt, exchange: Exchange | None) -> None:
        after.append((attempt.http_status, exchange is not None))

    inner = ScriptedClient({"gpt-5.2": [failure("server_error", http_status=500)]})
    client = _client(inner, clock, before_attempt=before_attempt, after_attempt=after_attempt)
    with pytest.raises(RuntimeError, match="budget says no"):
        client.complete(request_for("gpt-5.2"))
    assert len(inner.calls) == 2  # the third attempt was stopped before sending
    assert after == [(500, False), (500, False)]

    inner_ok = ScriptedClient({"gpt-5.2": [exchange_for("gpt-5.2")]})
    after.clear()
    _client(inner_ok, clock, after_attempt=after_attempt).complete(request_for("gpt-5.2"))
    assert after == [(None, True)]


def test_real_sleep_next_attempt_not_before_retry_after() -> None:
    """With the real clock and sleep: the second request starts >= retry-after later."""
    sent_at: list[float] = []
    inner = ScriptedClient(
        {
            "gpt-5.2": [
                failure("rate_limit", http_status=429, retry_after_s=0.3),
                exchange_for("gpt-5.2"),
            ]
        },
        on_call=lambda _m: sent_at.append(time.monotonic()),
    )
    policy = FallbackPolicy(backoff_initial_seconds=0.01, backoff_max_seconds=1, jitter_seconds=0)
    RetryingClient(inner, policy).complete(request_for("gpt-5.2"))
    assert len(sent_at) == 2
    assert sent_at[1] - sent_at[0] >= 0.3


def test_keys_never_reach_attempts_or_the_final_message(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "test-key-" + secrets.token_hex(8)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    leaky = ProviderCallError(
        f"401 for Authorization: Bearer {key}",
        error_class="authentication",
        retryable=False,
        http_status=401,
    )
    inner = ScriptedClient({"gpt-5.2": [leaky]})
    with pytest.raises(ProviderCallError) as caught:
        _client(inner, FakeClock()).complete(request_for("gpt-5.2"))
    assert key not in str(caught.value)
    assert key not in (caught.value.attempts[0].error_message or "")
    assert "[REDACTED]" in str(caught.value)
