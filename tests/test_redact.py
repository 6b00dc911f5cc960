"""Credentials never survive into logs: scrub_secrets."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote

import pytest

from aiops.redact import (
    MAX_MESSAGE_CHARS,
    REDACTED,
    REDACTION_MARKER,
    SECRET_SHAPED,
    redact_json,
    redact_model_text,
    scrub_secrets,
    secret_kinds,
    secrets_from_env,
)


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


# --- Known secrets in all their forms, and model answers stored redacted -----------------


def test_every_form_of_a_known_secret_is_known() -> None:
    from aiops.known_secrets import collect

    key = "k" + secrets.token_hex(8)  # no key shape at all
    password = f"p/{secrets.token_hex(4)}+=@"
    env = {
        "ANY_VENDOR_KEY": key,
        "https_proxy": f"http://desk:{quote(password, safe='')}@proxy.test:3128",
        "VENDOR_BASE_URL": f"https://gw.test/v1?api_key={key}x",
    }
    known = collect(["ANY_VENDOR_KEY"], ["VENDOR_BASE_URL"], env)
    forms = dict(known.forms)
    assert forms[key] == "provider_key"
    assert forms[base64.b64encode(key.encode()).decode()] == "provider_key"
    assert forms[password] == "proxy_password"  # percent-decoded
    assert forms[quote(password, safe="")] == "proxy_password"  # as written in the URL
    assert forms[base64.b64encode(f"desk:{password}".encode()).decode()] == "proxy_password"
    assert forms[key + "x"] == "url_credential"
    lengths = [len(form) for form, _ in known.forms]
    assert lengths == sorted(lengths, reverse=True)  # a longer form is replaced whole


def test_known_secrets_are_scrubbed_from_messages_without_being_passed() -> None:
    from aiops.known_secrets import activate, from_values

    key = "plain" + secrets.token_hex(3)
    activate(from_values([key], "provider_key"))
    assert (
        scrub_secrets(f"echo {key} and {quote(key + '/', safe='')}")
        == f"echo {REDACTED} and {REDACTED}%2F"
    )


def test_a_model_answer_is_stored_with_a_marker_for_each_secret() -> None:
    from aiops.known_secrets import from_values

    key = "plain" + secrets.token_hex(4)
    known = from_values([key], "provider_key")
    text = '{"note": "' + key + " and sk-" + "a1" * 10 + '"}'
    stored = redact_model_text(text, known)
    assert stored.text == '{"note": "' + REDACTION_MARKER + " and " + REDACTION_MARKER + '"}'
    assert stored.kinds == ("provider_key", "secret_shaped") and stored.count == 2
    clean = redact_model_text('{"note": "nothing to see"}', known)
    assert clean.text == '{"note": "nothing to see"}' and not clean.redacted and clean.count == 0


def test_a_secret_hidden_by_json_escapes_replaces_the_whole_text() -> None:
    from aiops.known_secrets import from_values

    key = "plain" + secrets.token_hex(4)
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in key)
    stored = redact_model_text('{"note": "' + escaped + '"}', from_values([key], "provider_key"))
    assert stored.text == REDACTION_MARKER and stored.kinds == ("provider_key",)
    shaped = redact_model_text('{"note": "\\u0073k-' + "b2" * 10 + '"}')
    assert shaped.text == REDACTION_MARKER and shaped.kinds == ("secret_shaped",)


def test_a_private_key_block_is_removed_with_its_body() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    text = f"key: -----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----. Done"
    stored = redact_model_text(text)
    assert body not in stored.text and stored.text.endswith(". Done")


@pytest.mark.parametrize(
    ("shape", "secret"),
    [
        ("api_key", "sk-" + "A1b2C3d4" * 3),
        ("bearer_token", "Bearer " + "abcDEF123456" * 2),
        ("aws_access_key", "AKIA" + "ABCDEFGHIJKLMNOP"),
        ("aws_access_key", "ASIA" + "ABCDEFGHIJKLMNOP"),
        ("github_token", "ghs_" + "a1B2" * 9),
        ("private_key_block", "-----BEGIN EC PRIVATE KEY-----"),
    ],
)
def test_each_secret_shape_is_found_and_removed_anywhere_in_a_long_answer(
    shape: str, secret: str
) -> None:
    prose = "The index held its range; breadth narrowed. " * 40
    for text in (secret + " " + prose, prose + secret + " " + prose, prose + secret):
        assert secret_kinds(text) == {SECRET_SHAPED: shape}
        stored = redact_model_text(text)
        assert stored.kinds == (SECRET_SHAPED,) and secret not in stored.text
        assert REDACTION_MARKER in stored.text


def test_json_answers_are_redacted_string_by_string() -> None:
    from aiops.known_secrets import from_values

    key = "plain" + secrets.token_hex(4)
    value, kinds = redact_json(
        {"output": [{"text": f"x {key}", key: 1}], "n": 3}, from_values([key], "provider_key")
    )
    assert value == {"output": [{"text": f"x {REDACTION_MARKER}", REDACTION_MARKER: 1}], "n": 3}
    assert kinds == {"provider_key"}


def test_ordinary_words_in_urls_are_not_secrets() -> None:
    """A proxy's user name and a version in a query are not secrets: a model answer
    naming them must not be blocked."""
    from aiops.known_secrets import collect

    env = {
        "HTTPS_PROXY": "http://operator:" + secrets.token_hex(6) + "@proxy.test:3128",
        "AZURE_BASE_URL": "https://az.test/openai?api-version=2024-10-21",
    }
    forms = dict(collect([], ["AZURE_BASE_URL"], env).forms)
    assert "operator" not in forms and "2024-10-21" not in forms
    assert "api-version=2024-10-21" in forms  # the whole query string still is
