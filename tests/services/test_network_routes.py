"""Record and live through a proxy and behind an inspecting CA, end to end on real
sockets: a forward proxy on 127.0.0.1, an HTTPS server whose certificate a throwaway
CA signs, and the CLI between them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.evidence.builders import reindex, rewrite_json
from tests.services.packs import only_pack, read
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer
from tests.support.proxy import LoopbackProxy
from tests.support.scripts import happy_path
from tests.support.tls import LoopbackPki

LIVE = ["l2", "live", "--allow-network", "--yes"]


@pytest.fixture
def tls_loopback(
    loopback_pki: LoopbackPki, network_env: FakeKeys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopbackServer]:
    """The scripted provider server over HTTPS (certificate from ``loopback_pki``), both
    providers pointed at it."""
    server = LoopbackServer(tls=loopback_pki.server_context)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", server.base_url)
    try:
        yield server
    finally:
        server.close()
    assert not server.problems, server.problems


def _live_via_https_proxy(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    proxy: LoopbackProxy,
    pki: LoopbackPki,
    server: LoopbackServer,
) -> Result:
    """A happy-path live run with HTTPS_PROXY at ``proxy``, trusting the test CA."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    happy_path(server)
    return runner.invoke(app, LIVE)


def test_http_base_url_goes_through_http_proxy(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", loopback_proxy.url)
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    # The proxy forwarded both calls (absolute-form), and the server answered them.
    assert [(h.method, h.target, h.answered) for h in loopback_proxy.hits] == [
        ("POST", loopback.base_url + "/responses", 200),
        ("POST", loopback.base_url + "/chat/completions", 200),
    ]
    assert [r.path for r in loopback.requests] == [RESPONSES_PATH, CHAT_PATH]
    shown = f"via proxy http://{loopback_proxy.address} (HTTP_PROXY)"
    assert f"{loopback.base_url}: {shown}" in result.stderr  # the banner, per endpoint
    assert "TLS trust: certifi" in result.stderr
    pack = only_pack()
    network = read(pack, "run_manifest.json")["network"]
    assert network["tls_trust"] == "certifi" and network["ca_file"] is None
    assert {
        e["provider_id"]: (e["route"], e["proxy"], e["decided_by"]) for e in network["endpoints"]
    } == {
        "openai": ("proxy", f"http://{loopback_proxy.address}", "HTTP_PROXY"),
        "deepseek": ("proxy", f"http://{loopback_proxy.address}", "HTTP_PROXY"),
    }
    report = (pack / "operator_output.md").read_text()
    assert f"- **openai:** {loopback.base_url} — via proxy http://{loopback_proxy.address}" in (
        report
    )
    verified = runner.invoke(app, ["verify-pack", str(pack)])
    assert verified.exit_code == 0, verified.stdout


def test_https_through_connect_with_the_corporate_ca(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_proxy: LoopbackProxy,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _live_via_https_proxy(runner, monkeypatch, loopback_proxy, loopback_pki, tls_loopback)
    assert result.exit_code == 0, result.stderr
    port = tls_loopback.base_url.rsplit(":", 1)[1].split("/")[0]
    # One tunnel (the connection is kept alive for both calls); TLS runs inside it.
    assert {(h.method, h.target, h.answered) for h in loopback_proxy.hits} == {
        ("CONNECT", f"127.0.0.1:{port}", 200)
    }
    assert [r.path for r in tls_loopback.requests] == [RESPONSES_PATH, CHAT_PATH]
    assert f"TLS trust: SSL_CERT_FILE {loopback_pki.ca_file}" in result.stderr
    network = read(only_pack(), "run_manifest.json")["network"]
    assert (network["tls_trust"], network["ca_file"]) == ("environment", str(loopback_pki.ca_file))
    assert network["endpoints"][0]["decided_by"] == "HTTPS_PROXY"
    assert runner.invoke(app, ["verify-pack", str(only_pack())]).exit_code == 0


def test_https_without_the_corporate_ca_fails_closed_naming_tls(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", loopback_proxy.url)
    happy_path(tls_loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("aiops: error: proposer failed")
    assert "TLS certificate of " + tls_loopback.base_url + "/responses via proxy" in last
    assert "trusted CAs: certifi" in last and "set SSL_CERT_FILE" in last
    assert tls_loopback.requests == []  # nothing reached the server
    proposer = read(only_pack(), "proposer_output.json")
    # Not retried (a certificate does not change); the fallback model failed the same way.
    assert [(a["model_id"], a["error_class"]) for a in proposer["attempts"]] == [
        ("gpt-5.2-pro", "tls"),
        ("gpt-5.2", "tls"),
    ]


def test_https_direct_with_the_corporate_ca(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(loopback_pki.ca_file))
    happy_path(tls_loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert f"{tls_loopback.base_url}: direct " in result.stderr
    assert "via proxy" not in result.stderr


def test_no_proxy_sends_the_named_endpoint_direct_and_the_other_through_the_proxy(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoopbackServer() as critic_server:
        monkeypatch.setenv("DEEPSEEK_BASE_URL", critic_server.base_url)
        critic_origin = critic_server.base_url.split("//")[1].split("/")[0]  # 127.0.0.1:port
        monkeypatch.setenv("http_proxy", loopback_proxy.url)
        monkeypatch.setenv("no_proxy", f"example.invalid, {critic_origin}")
        happy_path(loopback)
        happy_path(critic_server)
        result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert [h.target for h in loopback_proxy.hits] == [loopback.base_url + "/responses"]
    assert [r.path for r in critic_server.requests] == [CHAT_PATH]  # reached directly
    assert f"{critic_server.base_url}: direct (no_proxy)" in result.stderr
    routes = read(only_pack(), "run_manifest.json")["network"]["endpoints"]
    assert {e["provider_id"]: (e["route"], e["decided_by"]) for e in routes} == {
        "openai": ("proxy", "http_proxy"),
        "deepseek": ("direct", "no_proxy"),
    }
    assert runner.invoke(app, ["verify-pack", str(only_pack())]).exit_code == 0


def test_no_proxy_star_bypasses_everything(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALL_PROXY", loopback_proxy.url)
    monkeypatch.setenv("NO_PROXY", "*")
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert loopback_proxy.hits == [] and len(loopback.requests) == 2


# --- refused before anything is sent --------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "phrase"),
    [
        ("HTTP_PROXY", "http://proxy:port", "HTTP_PROXY is not a usable proxy URL"),
        ("https_proxy", "socks5://proxy:1080", "https_proxy is not a usable proxy URL"),
        ("SSL_CERT_FILE", "missing-ca.pem", "SSL_CERT_FILE {cwd}/missing-ca.pem is not a file"),
        ("SSL_CERT_FILE", "not-pem.txt", "SSL_CERT_FILE {cwd}/not-pem.txt is not a readable PEM"),
    ],
)
def test_unusable_proxy_or_ca_exits_2_with_one_line_and_sends_nothing(
    variable: str,
    value: str,
    phrase: str,
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("not-pem.txt").write_text("this is not a certificate\n")
    monkeypatch.setenv("HTTP_PROXY", loopback_proxy.url)
    monkeypatch.setenv(variable, value)
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and phrase.format(cwd=Path.cwd()) in result.stderr
    assert result.stderr.startswith("aiops: error: ")
    assert "NETWORK MODE" not in result.stderr  # refused before the banner
    assert loopback_proxy.hits == [] and loopback.requests == []
    assert not Path("evidence_packs").exists()


def test_proxy_demanding_credentials_refuses_without_them(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoopbackProxy(credentials=("desk", "not-the-password")) as proxy:
        result = _live_via_https_proxy(runner, monkeypatch, proxy, loopback_pki, tls_loopback)
    assert result.exit_code == 4, result.stderr
    assert f"proxy refused calling {tls_loopback.base_url}/responses via proxy" in result.stderr
    assert "407" in result.stderr
    assert {(h.method, h.answered) for h in proxy.hits} == {("CONNECT", 407)}
    assert len(proxy.hits) == 2  # primary and fallback once each: a 407 is not retried
    assert tls_loopback.requests == []


def test_https_proxy_is_verified_with_the_same_trust(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS to the proxy, then TLS to the server through its tunnel: both certificates
    are checked against SSL_CERT_FILE."""
    with LoopbackProxy(tls=loopback_pki.server_context) as proxy:
        result = _live_via_https_proxy(runner, monkeypatch, proxy, loopback_pki, tls_loopback)
    assert result.exit_code == 0, result.stderr
    assert f"via proxy https://{proxy.address} (HTTPS_PROXY)" in result.stderr
    # Only tunnels (one, or a second if a loaded machine let the first one close).
    assert {h.method for h in proxy.hits} == {"CONNECT"} and len(proxy.hits) <= 2
    assert [r.path for r in tls_loopback.requests] == [RESPONSES_PATH, CHAT_PATH]


def test_a_proxy_that_cannot_reach_the_server_is_retried_then_fails_closed(
    runner: CliRunner,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://127.0.0.1:{closed}/v1")
    monkeypatch.setenv("HTTPS_PROXY", loopback_proxy.url)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert "proxy refused calling" in result.stderr and "502" in result.stderr
    # A 502 from the proxy may pass: each model gets its retries (1 + 2 under FAST_POLICY).
    assert [(h.method, h.answered) for h in loopback_proxy.hits] == [("CONNECT", 502)] * 6
    attempts = read(only_pack(), "proposer_output.json")["attempts"]
    assert {a["error_class"] for a in attempts} == {"proxy"} and len(attempts) == 6


def test_a_plain_http_server_behind_an_https_url_is_a_tls_failure_not_retried(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url.replace("http://", "https://"))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert "TLS handshake failed calling https://127.0.0.1:" in result.stderr
    attempts = read(only_pack(), "proposer_output.json")["attempts"]
    assert [a["error_class"] for a in attempts] == ["tls", "tls"]  # one per model


def test_https_direct_with_a_hashed_certificate_directory(
    runner: CliRunner,
    tls_loopback: LoopbackServer,
    loopback_pki: LoopbackPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SSL_CERT_DIR alone: the server's CA is found by its subject hash, not certifi."""
    monkeypatch.setenv("SSL_CERT_DIR", str(loopback_pki.ca_dir))
    happy_path(tls_loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    network = read(only_pack(), "run_manifest.json")["network"]
    assert (network["tls_trust"], network["ca_dir"]) == ("environment", str(loopback_pki.ca_dir))


def test_a_proxy_refusing_the_destination_is_not_retried(
    runner: CliRunner,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 403 from the proxy (destination not allowed) will not change on a retry; the
    loopback proxy refuses every host beyond loopback without resolving it."""
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.invalid/v1")
    monkeypatch.setenv("HTTPS_PROXY", loopback_proxy.url)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert "proxy refused calling https://api.example.invalid/v1/responses" in result.stderr
    assert [(h.method, h.answered) for h in loopback_proxy.hits] == [("CONNECT", 403)] * 2
    attempts = read(only_pack(), "proposer_output.json")["attempts"]
    assert [a["error_class"] for a in attempts] == ["proxy", "proxy"]  # one per model


@pytest.fixture
def drops_handshakes() -> Iterator[tuple[str, list[int]]]:
    """An https:// base URL on 127.0.0.1 whose server reads the TLS ClientHello and
    closes the connection (a flaky middlebox), and the count of connections it took."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                accepted.append(1)
                conn.recv(65536)
                conn.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/v1", accepted
    finally:
        listener.close()


def test_a_connection_dropped_during_the_handshake_is_retried(
    runner: CliRunner,
    network_env: FakeKeys,
    drops_handshakes: tuple[str, list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base_url, accepted = drops_handshakes
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert f"cannot reach {base_url}/responses: connection closed during the TLS" in (result.stderr)
    attempts = read(only_pack(), "proposer_output.json")["attempts"]
    # Each model gets its retries (1 + 2 under FAST_POLICY), as for any dropped connection.
    assert [a["error_class"] for a in attempts] == ["connection"] * 6
    assert len(accepted) == 6


def test_an_ipv6_literal_behind_a_proxy_is_refused_before_anything_is_sent(
    runner: CliRunner,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy would get ``CONNECT ::1:9`` (no brackets) and refuse it or read it as
    another destination: exit 2 naming the NO_PROXY entry that sends it direct."""
    monkeypatch.setenv("OPENAI_BASE_URL", "https://[::1]:9/v1")
    monkeypatch.setenv("HTTPS_PROXY", loopback_proxy.url)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        "aiops: error: https://[::1]:9/v1 is an IPv6 address, which cannot be reached "
        "through the proxy from HTTPS_PROXY: name it in NO_PROXY as [::1] or use a host "
        "name; nothing was sent\n"
    )
    assert loopback_proxy.hits == [] and not Path("evidence_packs").exists()


def _first_endpoint(**change: Any) -> Callable[[dict[str, Any]], None]:
    return lambda manifest: manifest["network"]["endpoints"][0].update(change)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (_first_endpoint(route="direct"), "openai route 'direct' disagrees with its proxy"),
        (_first_endpoint(proxy=None), "openai route 'proxy' disagrees with its proxy None"),
        (_first_endpoint(decided_by="NO_PROXY"), "disagrees with its proxy"),
        (_first_endpoint(decided_by="HTTPS_PROXY"), "decided_by 'HTTPS_PROXY'"),  # http:// URL
        (
            lambda m: m["network"]["endpoints"].append(m["network"]["endpoints"][0]),
            "a provider is listed twice",
        ),
        (
            lambda m: m["network"].update(ca_file="/etc/pki/corp.pem"),
            "tls_trust 'certifi' disagrees with ca_file/ca_dir",
        ),
        (
            lambda m: m["network"].update(tls_trust="environment"),
            "tls_trust 'environment' disagrees with ca_file/ca_dir",
        ),
    ],
)
def test_verify_pack_reports_network_facts_that_contradict_themselves(
    change: Callable[[dict[str, Any]], None],
    phrase: str,
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    loopback_proxy: LoopbackProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A recorded route an auditor cannot read one way (rehashed, so only the
    consistency checks can tell)."""
    monkeypatch.setenv("HTTP_PROXY", loopback_proxy.url)
    happy_path(loopback)
    assert runner.invoke(app, LIVE).exit_code == 0
    pack = only_pack()
    rewrite_json(pack / "run_manifest.json", change)
    reindex(pack, "run_manifest.json")
    result = runner.invoke(app, ["verify-pack", str(pack), "--json"])
    assert result.exit_code == 1, result.stdout
    findings = json.loads(result.stdout)["packs"][0]["findings"]
    assert [(f["check"], phrase in f["message"]) for f in findings] == [("consistency", True)]
