"""Errors as a gateway rewraps them (LiteLLM's proxy in front of OpenAI or DeepSeek),
through the real client and the retry loop against the loopback server.

The bodies and header names are LiteLLM's own: captured from its proxy (1.108.7) in
front of a loopback upstream, and the issue's report of an older release that keeps
the provider's ``code`` inside the message. ``tests/gateway`` runs the real proxy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiops.providers.base import Exchange, ProviderCallError
from aiops.providers.openai_compatible import classify_http_error
from aiops.providers.retry import RetryingClient, parse_retry_after
from aiops.schemas.registry import FallbackPolicy
from tests.providers.helpers import make_request
from tests.providers.test_openai_compatible import client_for, fake_key
from tests.support.loopback import CHAT_PATH, LoopbackServer, Reply, chat_answer

NOW = datetime(2026, 1, 9, 12, 0, tzinfo=UTC)
TAIL = (
    "\n\nLiteLLM: model group 'gpt-5.2-pro' failed with the error above. No fallback was attempted."
)
QUOTA_BODIES = {
    "code in the message": {
        "error": {
            "message": "litellm.RateLimitError: RateLimitError: OpenAIException - Error code: "
            "429 - {'error': {'message': 'You exceeded your current quota.', 'type': "
            "'insufficient_quota', 'param': None, \"code\": \"insufficient_quota\"}}",
            "type": "throttling_error",
            "code": "429",
        }
    },
    "message only (LiteLLM 1.108)": {
        "error": {
            "message": "litellm.RateLimitError: RateLimitError: OpenAIException - You exceeded "
            "your current quota, please check your plan and billing details." + TAIL,
            "type": "throttling_error",
            "param": None,
            "code": "429",
        }
    },
    "plain OpenAI": {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    },
}
RATE_LIMIT = {
    "error": {
        "message": "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit "
        "reached for requests" + TAIL,
        "type": "throttling_error",
        "param": None,
        "code": "429",
    }
}
UNKNOWN_MODEL = {
    "error": {
        "message": "/chat/completions: Invalid model name passed in model=gpt-5.2-pro. Call "
        "`/v1/models` to view available models for your key.",
        "type": "invalid_request_error",
        "param": None,
        "code": "400",
    }
}
NO_KEY_DB = {
    "error": {
        "message": "No connected db.",
        "type": "no_db_connection",
        "param": None,
        "code": "400",
    }
}


def _fast() -> FallbackPolicy:
    return FallbackPolicy(backoff_initial_seconds=0.0, jitter_seconds=0.0, backoff_max_seconds=5)


def _call(loopback: LoopbackServer, sleeps: list[float]) -> Exchange:
    """One chat call through the real client and the retry loop; sleeps are recorded."""
    with client_for(loopback, fake_key()) as inner:
        client = RetryingClient(inner, _fast(), sleep=sleeps.append)
        return client.complete(make_request("deepseek-r1"))


@pytest.mark.parametrize("case", sorted(QUOTA_BODIES))
def test_quota_exhaustion_is_never_retried_wherever_the_gateway_puts_it(
    loopback: LoopbackServer, case: str
) -> None:
    loopback.script(CHAT_PATH, Reply(429, QUOTA_BODIES[case]))
    sleeps: list[float] = []
    with pytest.raises(ProviderCallError) as caught:
        _call(loopback, sleeps)
    assert caught.value.error_class == "insufficient_quota"
    assert "insufficient quota (billing), not retried" in caught.value.message
    assert len(loopback.requests) == 1 and sleeps == []
    assert [a.error_class for a in caught.value.attempts] == ["insufficient_quota"]


def test_a_gateway_rate_limit_is_still_retried_after_the_upstream_wait(
    loopback: LoopbackServer,
) -> None:
    headers = {"llm_provider-retry-after-ms": "1500", "llm_provider-retry-after": "2"}
    loopback.script(
        CHAT_PATH, Reply(429, RATE_LIMIT, headers=headers), Reply(body=chat_answer('{"a": 1}'))
    )
    sleeps: list[float] = []
    exchange = _call(loopback, sleeps)
    assert exchange.outcome == "completed"
    assert [a.error_class for a in exchange.attempts] == ["rate_limit", None]
    assert sleeps == [1.5]  # the upstream's retry-after-ms, not the zero backoff
    assert exchange.attempts[0].retry_delay_ms == 1500


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"llm_provider-retry-after-ms": "1500"}, 1.5),
        ({"LLM_PROVIDER-RETRY-AFTER": "7"}, 7.0),
        ({"llm_provider-retry-after": "Fri, 09 Jan 2026 12:00:30 GMT"}, 30.0),
        ({"llm_provider-retry-after-ms": "250", "llm_provider-retry-after": "9"}, 0.25),
        ({"retry-after": "1", "llm_provider-retry-after-ms": "4000"}, 4.0),  # the longer wait
        ({"retry-after-ms": "6000", "llm_provider-retry-after": "2"}, 6.0),
        ({"llm_provider-retry-after": "soon"}, None),
        ({"llm_provider-retry-after-ms": "-5"}, None),
        ({"llm_provider-retry-after-ms": "9999999"}, 600.0),  # capped
    ],
)
def test_gateway_retry_after_headers_count_like_the_plain_ones(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert parse_retry_after(headers, NOW) == seconds


@pytest.mark.parametrize("status", [400, 404])
def test_an_unknown_model_goes_to_the_next_with_a_clear_reason(
    loopback: LoopbackServer, status: int
) -> None:
    loopback.script(CHAT_PATH, Reply(status, UNKNOWN_MODEL))
    sleeps: list[float] = []
    with pytest.raises(ProviderCallError) as caught:
        _call(loopback, sleeps)
    error = caught.value
    assert (error.error_class, error.retryable, error.fallback_ok) == (
        "model_not_found",
        False,
        True,
    )
    assert "does not serve this model" in error.message
    assert "Invalid model name passed in model=gpt-5.2-pro" in error.message
    assert len(loopback.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        NO_KEY_DB,
        {"error": {"message": "Authentication Error, Invalid proxy server token passed."}},
        {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}},
    ],
)
def test_a_wrong_key_answered_with_400_keeps_the_hint(body: dict[str, object]) -> None:
    error = classify_http_error(
        400, body, {}, url="http://gw/v1/chat/completions", key=None, key_env="DEEPSEEK_API_KEY"
    )
    assert error.error_class == "authentication" and not error.retryable
    assert "check DEEPSEEK_API_KEY" in error.message


def test_an_ordinary_400_gets_no_key_hint_and_no_model_reason() -> None:
    body = {"error": {"message": "Unsupported parameter: 'temperature'.", "code": "400"}}
    error = classify_http_error(400, body, {}, url="u", key=None, key_env="OPENAI_API_KEY")
    assert error.error_class == "bad_request"
    assert "OPENAI_API_KEY" not in error.message and "Unsupported parameter" in error.message
