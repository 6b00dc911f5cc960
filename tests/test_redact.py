"""Credentials never survive into logs: scrub_secrets."""

from __future__ import annotations

import secrets

import pytest

from aiops.redact import MAX_MESSAGE_CHARS, REDACTED, scrub_secrets, secrets_from_env


def _fake_key() -> str:
    return "test-key-" + secrets.token_hex(8)


@pytest.mark.parametrize(
    "template",
    [
        "401 Unauthorized: Authorization: Bearer {key}",
        "request headers {{'authorization': 'Bearer {key}'}}",
        "Incorrect API key provided: sk-{hexkey}. Find your key at ...",
        "GET https://gw.example.test/v1/responses?api_key={key}&x=1 failed",
        'body was {{"api_key": "{key}"}}',
        "x-api-key={key} rejected",
        "proxy-authorization: Basic {key}",
        "token {hexkey} expired",
    ],
)
def test_key_shapes_are_removed(template: str) -> None:
    key = _fake_key()
    hexkey = secrets.token_hex(20)
    message = template.format(key=key, hexkey=hexkey)
    scrubbed = scrub_secrets(message)
    assert key not in scrubbed and hexkey not in scrubbed
    assert REDACTED in scrubbed


def test_known_secret_values_are_removed_wherever_they_appear() -> None:
    key = "plain" + secrets.token_hex(3)  # short, no key-like shape: only known by value
    assert key in scrub_secrets(f"echo {key}")
    assert scrub_secrets(f"echo {key}!", [key]) == f"echo {REDACTED}!"


def test_ordinary_messages_are_kept_and_trimmed_to_one_line() -> None:
    message = "503 Service Unavailable: the server is overloaded,\nplease retry later"
    assert scrub_secrets(message) == (
        "503 Service Unavailable: the server is overloaded, please retry later"
    )
    assert len(scrub_secrets("x " * 1000)) == MAX_MESSAGE_CHARS


def test_secrets_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    key = _fake_key()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "short")
    assert secrets_from_env(["OPENAI_API_KEY", "DEEPSEEK_API_KEY", "UNSET_VAR"]) == [key]
