"""The real client against the loopback server: wire, headers, error classification."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from aiops.errors import MissingCredentialError
from aiops.providers.base import ProviderCallError
from aiops.providers.openai_compatible import Endpoint, OpenAICompatibleClient, resolve_endpoint
from aiops.schemas.registry import FallbackPolicy, Provider
from tests.providers.helpers import make_request
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    chat_answer,
    error_body,
    responses_answer,
)

PROVIDER = Provider(
    base_url="https://api.openai.com/v1",
    base_url_env="OPENAI_BASE_URL",
    api_key_env="OPENAI_API_KEY",
)


def fake_key() -> str:
    return "test-key-" + secrets.token_hex(8)


def client_for(
    server: LoopbackServer, key: str, policy: FallbackPolicy | None = None
) -> OpenAICompatibleClient:
    endpoints = {
        name: Endpoint(
            name,
            server.base_url,
            resolve_endpoint(name, PROVIDER, {"OPENAI_API_KEY": key}).api_key,
            "OPENAI_API_KEY",
        )
        for name in ("openai", "deepseek")
    }
    return OpenAICompatibleClient(endpoints, policy if policy is not None else FallbackPolicy())


def test_responses_call_sends_a_valid_body_and_the_key_only_in_the_header(
    loopback: LoopbackServer,
) -> None:
    key = fake_key()
    loopback.script(RESPONSES_PATH, Reply(body=responses_answer('{"outputs": []}')))
    with client_for(loopback, key) as client:
        exchange = client.complete(make_request())
    (captured,) = loopback.requests
    assert captured.headers["Authorization"] == f"Bearer {key}"
    assert key not in str(captured.body)
    assert exchange.outcome == "completed" and exchange.text == '{"outputs": []}'
    # gpt-5.2-pro is a background model: its fields are in the body sent, and the body
    # recorded (which the prompt hash covers) is exactly that body.
    assert captured.body == exchange.request_body
    assert exchange.request_body["background"] is True and exchange.request_body["store"] is True
    assert exchange.response_body["id"].startswith("resp_")
    assert exchange.attempts[0].endpoint == loopback.base_url + "/responses"
    assert exchange.attempts[0].http_status == 200


def test_chat_call_goes_to_chat_completions(loopback: LoopbackServer) -> None:
    loopback.script(CHAT_PATH, Reply(body=chat_answer('{"x": 1}', reasoning_content="r")))
    with client_for(loopback, fake_key()) as client:
        exchange = client.complete(make_request("deepseek-r1", role="critic"))
    assert loopback.requests[0].path == CHAT_PATH
    assert exchange.endpoint_kind == "chat_completions"
    assert exchange.reasoning_text == "r"


def _error(loopback: LoopbackServer, reply: Reply, key: str | None = None) -> ProviderCallError:
    loopback.script(RESPONSES_PATH, reply)
    with (
        client_for(loopback, key or fake_key()) as client,
        pytest.raises(ProviderCallError) as caught,
    ):
        client.complete(make_request())
    return caught.value


def test_429_rate_limit_is_retryable_and_honours_retry_after_ms(loopback: LoopbackServer) -> None:
    error = _error(
        loopback,
        Reply(
            429,
            error_body("Rate limit reached", code="rate_limit_exceeded"),
            {"retry-after-ms": "1500"},
        ),
    )
    assert (error.error_class, error.retryable, error.http_status) == ("rate_limit", True, 429)
    assert error.retry_after_s == 1.5
    assert error.attempts[0].error_class == "rate_limit"


def test_429_insufficient_quota_is_not_retried(loopback: LoopbackServer) -> None:
    error = _error(
        loopback,
        Reply(
            429,
            error_body(
                "You exceeded your current quota",
                code="insufficient_quota",
                kind="insufficient_quota",
            ),
        ),
    )
    assert (error.error_class, error.retryable, error.fallback_ok) == (
        "insufficient_quota",
        False,
        True,
    )


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_never_echo_the_key(loopback: LoopbackServer, status: int) -> None:
    key = fake_key()
    # Providers echo part of a bad key; the message must not carry it.
    error = _error(loopback, Reply(status, error_body(f"Incorrect API key provided: {key}")), key)
    assert key not in str(error) and key[:14] not in str(error)
    assert error.error_class in ("authentication", "permission")
    assert not error.retryable
    assert "OPENAI_API_KEY" in str(error)


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (400, "bad_request", False),
        (404, "not_found", False),
        (408, "timeout", True),
        (409, "conflict", True),
        (500, "server_error", True),
        (503, "server_error", True),
    ],
)
def test_http_status_classification(
    loopback: LoopbackServer, status: int, error_class: str, retryable: bool
) -> None:
    error = _error(loopback, Reply(status, error_body("nope")))
    assert (error.error_class, error.retryable, error.http_status) == (
        error_class,
        retryable,
        status,
    )


def test_provider_text_is_redacted(loopback: LoopbackServer) -> None:
    key = fake_key()
    error = _error(loopback, Reply(500, error_body(f"upstream said Bearer {key} failed")), key)
    assert key not in str(error)
    assert "[REDACTED]" in str(error)


def test_non_json_success_is_malformed(loopback: LoopbackServer) -> None:
    error = _error(loopback, Reply(200, raw=b"<html>gateway</html>"))
    assert error.error_class == "malformed_response"


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoints = {
        "openai": Endpoint("openai", f"http://127.0.0.1:{port}/v1", None, "OPENAI_API_KEY")
    }
    with OpenAICompatibleClient(endpoints, FallbackPolicy()) as client:
        with pytest.raises(ProviderCallError) as caught:
            client.complete(make_request())
    assert (caught.value.error_class, caught.value.retryable) == ("connection", True)


def test_request_timeout_comes_from_the_policy(loopback: LoopbackServer) -> None:
    def slow(captured: Captured) -> Reply:
        time.sleep(0.5)
        return Reply(body=responses_answer("{}"))

    loopback.script(RESPONSES_PATH, slow)
    with client_for(loopback, fake_key(), FallbackPolicy(request_timeout_seconds=0.1)) as client:
        with pytest.raises(ProviderCallError) as caught:
            client.complete(make_request())
    assert (caught.value.error_class, caught.value.retryable) == ("timeout", True)


def test_missing_key_names_the_variable_and_nothing_else() -> None:
    with pytest.raises(MissingCredentialError) as caught:
        resolve_endpoint("openai", PROVIDER, {})
    assert "OPENAI_API_KEY is not set" in str(caught.value)
    assert caught.value.exit_code == 2


def test_endpoint_repr_hides_the_key() -> None:
    key = fake_key()
    endpoint = resolve_endpoint(
        "openai", PROVIDER, {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"}
    )
    assert key not in repr(endpoint) and key not in str(endpoint)
    assert endpoint.base_url == "http://127.0.0.1:9/v1"


def test_base_url_must_be_http() -> None:
    with pytest.raises(MissingCredentialError, match="OPENAI_BASE_URL"):
        resolve_endpoint("openai", PROVIDER, {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": "ftp://h"})


def test_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    password = "pw-" + secrets.token_hex(8)
    with pytest.raises(MissingCredentialError) as caught:
        resolve_endpoint(
            "openai",
            PROVIDER,
            {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": f"https://ops:{password}@gw.example/v1"},
        )
    assert "OPENAI_BASE_URL carries credentials" in str(caught.value)
    assert password not in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_at_sign_in_the_path_is_not_credentials() -> None:
    environ = {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": "https://gw.example/team@ops/v1"}
    assert resolve_endpoint("openai", PROVIDER, environ).base_url.endswith("/team@ops/v1")


def test_a_key_cut_by_the_excerpt_limit_leaves_no_prefix(loopback: LoopbackServer) -> None:
    key = fake_key()
    # The provider's message is trimmed to 200 characters; the key straddles the cut.
    message = "x" * 183 + " " + key + " rest of the message"
    error = _error(loopback, Reply(500, error_body(message)), key)
    assert key[:16] not in str(error)
    assert all(key[:16] not in (a.error_message or "") for a in error.attempts)


@pytest.mark.parametrize(
    "url",
    [
        "https://gw.example/v1?api_key={secret}",
        "https://gw.example?key={secret}",
        "https://gw.example/v1#{secret}",
        "https://gw.example/v1?x=1&sig={secret}",
        "https://gw.example/v1?x=a@{secret}",
        "https://@{secret}",
        "https://gw.example /v1?{secret}",
    ],
)
def test_a_base_url_that_could_carry_a_credential_is_refused_unechoed(url: str) -> None:
    secret = "qs" + secrets.token_hex(8)
    value = url.format(secret=secret)
    with pytest.raises(MissingCredentialError) as caught:
        resolve_endpoint("openai", PROVIDER, {"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": value})
    message = str(caught.value)
    assert message.startswith("OPENAI_BASE_URL ") and message.endswith("nothing was sent")
    assert secret not in message and value not in message
    assert caught.value.exit_code == 2
