"""No key ever leaves the process: every byte aiops writes or prints is scanned, in
success and in every error path, with obviously fake keys made at run time. The same
holds for a proxy's user and password."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    LoopbackServer,
    Reply,
    chat_answer,
    error_body,
    responses_answer,
)
from tests.support.proxy import LoopbackProxy
from tests.support.scripts import critic_handler, happy_path, proposer_reply
from tests.support.tls import LoopbackPki

Script = Callable[[LoopbackServer, FakeKeys], None]


def echo_key(status: int) -> Script:
    def script(server: LoopbackServer, keys: FakeKeys) -> None:
        server.script(
            RESPONSES_PATH, Reply(status, error_body(f"Incorrect API key provided: {keys.openai}"))
        )

    return script


def critic_echo(server: LoopbackServer, keys: FakeKeys) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, Reply(403, error_body(f"key {keys.deepseek} has no access")))


def leaky_outputs(server: LoopbackServer, keys: FakeKeys) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = "Bearer " + "abcdefgh" * 3  # a secret-like string
    server.script(RESPONSES_PATH, proposer_reply(outputs))
    server.script(CHAT_PATH, critic_handler())


def critic_garbage(server: LoopbackServer, keys: FakeKeys) -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, Reply(body=chat_answer("not json")))


SCENARIOS: dict[str, tuple[list[str], Script | None]] = {
    "live ok": (["live", "--allow-network", "--yes"], lambda s, k: happy_path(s)),
    "record ok": (
        ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
        lambda s, k: happy_path(s),
    ),
    "rejected": (["live", "--allow-network", "--yes"], lambda s, k: happy_path(s, "REJECT")),
    "401 echo": (["live", "--allow-network", "--yes"], echo_key(401)),
    "500 echo record": (
        ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
        echo_key(500),
    ),
    "critic 403 echo": (["live", "--allow-network", "--yes"], critic_echo),
    "scope violation": (["live", "--allow-network", "--yes"], leaky_outputs),
    "refusal": (
        ["live", "--allow-network", "--yes"],
        lambda s, k: s.script(RESPONSES_PATH, Reply(body=responses_answer(None, refusal="no"))),
    ),
    "critic garbage": (["live", "--allow-network", "--yes"], critic_garbage),
    "no terminal": (["live", "--allow-network"], None),
    "no opt-in": (["live"], None),
    "replay": (["replay"], None),
    "replay miss": (["replay", "--fixture", "missing.json"], None),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_key_in_any_output(
    name: str, runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    argv, script = SCENARIOS[name]
    if script is not None:
        script(loopback, network_env)
    result = runner.invoke(app, ["l2", *argv])
    assert result.exit_code in (0, 1, 2, 4), result.stderr
    written = [p for p in Path.cwd().rglob("*") if p.is_file()]
    blobs = [result.stdout.encode(), result.stderr.encode(), *(p.read_bytes() for p in written)]
    for key in network_env.all():
        for blob in blobs:
            assert key.encode() not in blob
            assert key[-12:].encode() not in blob  # no partial echo either
    assert all(b"authorization" not in blob.lower() for blob in blobs)
    if name.endswith("ok") or name in ("rejected", "scope violation", "critic garbage"):
        assert written, "a pack was expected"


def test_missing_key_message_names_the_variable_not_the_other_key(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert result.exit_code == 2
    assert "OPENAI_API_KEY is not set" in result.stderr
    assert network_env.deepseek not in result.stdout + result.stderr
    assert loopback.requests == []


# --- Proxy credentials: used on the wire to the proxy, written and printed nowhere --------


@pytest.mark.parametrize(
    ("name", "argv", "expected_exit"),
    [
        ("http proxy, live", ["live", "--allow-network", "--yes"], 0),
        (
            "http proxy, record",
            ["record", "--allow-network", "--yes", "--fixture", "rec.json"],
            0,
        ),
        ("CONNECT tunnel, live", ["live", "--allow-network", "--yes"], 0),
        ("wrong password", ["live", "--allow-network", "--yes"], 4),
        ("unparseable proxy URL", ["live", "--allow-network", "--yes"], 2),
    ],
)
def test_no_proxy_credential_in_any_output(
    name: str,
    argv: list[str],
    expected_exit: int,
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = "desk-" + secrets.token_hex(4), "proxy-pass-" + secrets.token_hex(8)
    proxy = LoopbackProxy(credentials=(user, password))
    server = loopback
    tls_server = None
    try:
        if name.startswith("CONNECT"):
            tls_server = server = LoopbackServer(tls=loopback_pki.server_context)
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            monkeypatch.setenv("DEEPSEEK_BASE_URL", server.base_url)
            monkeypatch.setenv("SSL_CERT_FILE", str(loopback_pki.ca_file))
            monkeypatch.setenv("HTTPS_PROXY", proxy.url_with(user, password))
        elif name == "wrong password":
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password + "x"))
        elif name == "unparseable proxy URL":
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password) + "x")
        else:
            monkeypatch.setenv("HTTP_PROXY", proxy.url_with(user, password))
        happy_path(server)
        result = runner.invoke(app, ["l2", *argv])
    finally:
        proxy.close()
        if tls_server is not None:
            tls_server.close()
    assert result.exit_code == expected_exit, result.stderr
    token = base64.b64encode(f"{user}:{password}".encode())
    if expected_exit == 0:  # the credentials did reach the proxy, as Basic auth
        assert {h.proxy_authorization for h in proxy.hits} == {"Basic " + token.decode()}
        assert f"via proxy http://{proxy.address}" in result.stderr
    written = [p for p in Path.cwd().rglob("*") if p.is_file()]
    if expected_exit != 2:
        assert any(p.name == "run_manifest.json" for p in written)
    blobs = [result.stdout.encode(), result.stderr.encode(), *(p.read_bytes() for p in written)]
    for blob in blobs:
        for secret in (password.encode(), user.encode(), token):
            assert secret not in blob
        assert b"proxy-authorization" not in blob.lower()
