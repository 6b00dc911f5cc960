"""How requests leave: proxy variables as the standard library reads them, proxy URLs
parsed strictly (credentials never shown), and the CA bundle aiops trusts."""

from __future__ import annotations

import os
import secrets
import urllib.request
from collections.abc import Callable
from pathlib import Path

import certifi
import pytest

from aiops.errors import EXIT_BLOCKED, NetworkSetupError
from aiops.providers.egress import (
    CERTIFI,
    TlsTrust,
    parse_proxy,
    proxy_variables,
    read_egress,
    tls_context,
)
from tests.support.tls import LoopbackPki

OPENAI = "https://api.openai.com/v1"
LOCAL = "http://127.0.0.1:11434/v1"

ENVIRONMENTS: dict[str, dict[str, str]] = {
    "none": {},
    "upper": {"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://q:2", "NO_PROXY": "a"},
    "lower wins": {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"},
    "empty lower unsets": {"https_proxy": "", "HTTPS_PROXY": "http://up:2"},
    "mixed case": {"Https_Proxy": "http://mixed:3", "ALL_PROXY": "http://all:4"},
    "cgi drops upper http": {"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://evil:5"},
    "cgi keeps lower http": {"REQUEST_METHOD": "GET", "http_proxy": "http://ok:6"},
}


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_proxy_variables_read_as_the_stdlib_reads_os_environ(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = ENVIRONMENTS[name]
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stdlib = urllib.request.getproxies_environment()
    for source in (os.environ, env):
        assert {k: value for k, (_, value) in proxy_variables(source).items()} == stdlib


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"Https_Proxy": "http://a:1", "HTTPS_PROXY": "http://b:2"}, "HTTPS_PROXY"),
        ({"HTTPS_PROXY": "http://b:2", "Https_Proxy": "http://a:1"}, "Https_Proxy"),
        ({"HTTPS_PROXY": "http://b:2", "HTTPS_proxy": "http://c:3"}, "HTTPS_proxy"),
        ({"https_proxy": "http://d:4", "HTTPS_PROXY": "http://b:2"}, "https_proxy"),
    ],
)
def test_the_variable_recorded_is_the_one_whose_value_is_used(
    env: dict[str, str], variable: str
) -> None:
    """The stdlib's last-one-wins order decides the value; the pack must name its source."""
    route = read_egress(env).route(OPENAI)
    assert route.proxy is not None
    assert (route.decided_by, route.proxy.shown) == (variable, parse_proxy(env[variable], "").shown)


# (environment, base URL) -> what the banner says about the route
ROUTES = [
    ({}, OPENAI, "direct"),
    (
        {"HTTPS_PROXY": "http://proxy.corp:8080"},
        OPENAI,
        "via proxy http://proxy.corp:8080 (HTTPS_PROXY)",
    ),
    ({"HTTPS_PROXY": "http://proxy.corp:8080"}, LOCAL, "direct"),
    (
        {"HTTP_PROXY": "http://proxy.corp:3128"},
        LOCAL,
        "via proxy http://proxy.corp:3128 (HTTP_PROXY)",
    ),
    ({"HTTP_PROXY": "http://proxy.corp:3128"}, OPENAI, "direct"),
    ({"ALL_PROXY": "http://all.corp:8080"}, OPENAI, "via proxy http://all.corp:8080 (ALL_PROXY)"),
    ({"ALL_PROXY": "http://all.corp:8080"}, LOCAL, "via proxy http://all.corp:8080 (ALL_PROXY)"),
    (
        {"ALL_PROXY": "http://all.corp:1", "HTTPS_PROXY": "http://https.corp:2"},
        OPENAI,
        "via proxy http://https.corp:2 (HTTPS_PROXY)",
    ),
    (
        {"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:2"},
        OPENAI,
        "via proxy http://low:2 (https_proxy)",
    ),
    ({"HTTPS_PROXY": "proxy.corp:8080"}, OPENAI, "via proxy http://proxy.corp:8080 (HTTPS_PROXY)"),
    ({"HTTPS_PROXY": "http://proxy.corp"}, OPENAI, "via proxy http://proxy.corp:80 (HTTPS_PROXY)"),
    (
        {"HTTPS_PROXY": "https://proxy.corp"},
        OPENAI,
        "via proxy https://proxy.corp:443 (HTTPS_PROXY)",
    ),
    # NO_PROXY: the stdlib's rules: host or host:port, domain suffixes at a dot, "*".
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.openai.com"}, OPENAI, "direct (NO_PROXY)"),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".openai.com"}, OPENAI, "direct (no_proxy)"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "x, openai.com"}, OPENAI, "direct (NO_PROXY)"),
    (
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "penai.com"},
        OPENAI,
        "via proxy http://p:1 (HTTPS_PROXY)",
    ),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, OPENAI, "direct (NO_PROXY)"),
    # Loopback is not special: proxied unless NO_PROXY names it (host, or host:port).
    ({"HTTP_PROXY": "http://p:1"}, LOCAL, "via proxy http://p:1 (HTTP_PROXY)"),
    ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "localhost,127.0.0.1"}, LOCAL, "direct (NO_PROXY)"),
    ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:11434"}, LOCAL, "direct (NO_PROXY)"),
    (
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:8000"},
        LOCAL,
        "via proxy http://p:1 (HTTP_PROXY)",
    ),
    # "*" only as the whole value; a port only when the base URL spells it.
    (
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost, *"},
        OPENAI,
        "via proxy http://p:1 (HTTPS_PROXY)",
    ),
    (
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.openai.com:443"},
        OPENAI,
        "via proxy http://p:1 (HTTPS_PROXY)",
    ),
    # An IPv6 literal is named bracketed, as the URL spells it.
    (
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "[::1]"},
        "http://[::1]:11434/v1",
        "direct (NO_PROXY)",
    ),
    (
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "[::1]:11434"},
        "http://[::1]:11434/v1",
        "direct (NO_PROXY)",
    ),
    ({"HTTP_PROXY": "http://p:1"}, "http://[::1]:11434/v1", "refused"),
    ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "::1"}, "http://[::1]:11434/v1", "refused"),
    # No CIDR ranges in the stdlib's NO_PROXY.
    (
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.0/8"},
        LOCAL,
        "via proxy http://p:1 (HTTP_PROXY)",
    ),
]


@pytest.mark.parametrize(("env", "base_url", "expected"), ROUTES)
def test_route_per_base_url(env: dict[str, str], base_url: str, expected: str) -> None:
    egress = read_egress(env)
    if expected != "refused":
        assert egress.route(base_url).describe() == expected
        return
    # Through a proxy an IPv6 literal would be written without brackets: never sent.
    with pytest.raises(NetworkSetupError, match=r"is an IPv6 address.* NO_PROXY as \[::1\] "):
        egress.route(base_url)


def test_proxy_credentials_are_used_but_never_shown() -> None:
    password = "proxy-pass-" + secrets.token_hex(8)
    proxy = parse_proxy(f"http://desk-user:{password}@proxy.corp:8080", "HTTPS_PROXY")
    assert proxy.shown == "http://proxy.corp:8080"
    assert password in proxy.url.get_secret_value()  # what the transport gets
    route = read_egress({"HTTPS_PROXY": f"http://desk-user:{password}@proxy.corp:8080"}).route(
        OPENAI
    )
    for text in (repr(proxy), str(proxy), repr(route), route.describe()):
        assert password not in text and "desk-user" not in text


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("http://proxy.corp:80a80", "port is not a number"),
        ("http://proxy.corp:99999", "port is not a number"),
        ("socks5://proxy.corp:1080", "SOCKS proxies are not supported"),
        ("ftp://proxy.corp:21", "scheme must be http or https"),
        ("http://:8080", "no host"),
        ("http://proxy.corp:8080/proxy.pac", "no path, query or fragment"),
        ("http://proxy corp:8080", "whitespace"),
        ("   ", "empty"),
    ],
)
def test_an_unusable_proxy_url_is_refused_naming_the_variable_not_the_value(
    value: str, why: str
) -> None:
    secret = "pw-" + secrets.token_hex(6)
    broken = value.replace("://", f"://user:{secret}@", 1) if "://" in value else value
    with pytest.raises(NetworkSetupError) as caught:
        read_egress({"https_proxy": broken})
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_BLOCKED
    assert message.startswith("https_proxy is not a usable proxy URL") and why in message
    assert "\n" not in message and secret not in message and "proxy.corp" not in message


def test_a_broken_proxy_variable_refuses_even_when_no_endpoint_would_use_it() -> None:
    """Fail closed: what the operator configured must make sense before anything runs."""
    with pytest.raises(NetworkSetupError, match="ALL_PROXY"):
        read_egress({"ALL_PROXY": "socks5h://proxy:1080", "NO_PROXY": "*"})


# --- Trust: SSL_CERT_FILE / SSL_CERT_DIR or certifi ----------------------------------------


def test_certifi_unless_the_environment_names_a_bundle() -> None:
    egress = read_egress({})
    assert egress.trust == CERTIFI and egress.trust.describe() == "certifi"
    assert tls_context(CERTIFI) is tls_context(CERTIFI)  # one shared context


def test_ssl_cert_file_replaces_certifi(loopback_pki: LoopbackPki) -> None:
    egress = read_egress({"SSL_CERT_FILE": str(loopback_pki.ca_file)})
    assert egress.trust == TlsTrust(ca_file=str(loopback_pki.ca_file))
    assert egress.trust.describe() == f"SSL_CERT_FILE {loopback_pki.ca_file}"
    context = tls_context(egress.trust)
    assert context is tls_context(TlsTrust(ca_file=str(loopback_pki.ca_file)))
    # Only the named bundle: one CA, not certifi's hundred-odd.
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ssl_cert_dir_is_a_list_of_hashed_directories(
    loopback_pki: LoopbackPki, tmp_path: Path
) -> None:
    """As OpenSSL reads it: directories separated by ":", certificates by subject hash."""
    value = f"{tmp_path}:{loopback_pki.ca_dir}"
    egress = read_egress({"SSL_CERT_DIR": value})
    assert egress.trust == TlsTrust(ca_dir=value)
    assert egress.trust.describe() == f"SSL_CERT_DIR {value}"


def test_relative_ca_paths_are_recorded_absolute_and_cached_apart(
    loopback_pki: LoopbackPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pack says which bundle was trusted wherever the auditor reads it, and one
    relative name in two directories is two bundles, not one cached context."""
    bundles = {"a": loopback_pki.ca_file.read_bytes(), "b": Path(certifi.where()).read_bytes()}
    counts = {}
    for name, bundle in bundles.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "ca.pem").write_bytes(bundle)
        monkeypatch.chdir(tmp_path / name)
        trust = read_egress({"SSL_CERT_FILE": "ca.pem"}).trust
        assert trust == TlsTrust(ca_file=str(tmp_path / name / "ca.pem"))
        counts[name] = tls_context(trust).cert_store_stats()["x509_ca"]
    assert counts["a"] == 1 and counts["b"] > 1
    monkeypatch.chdir(loopback_pki.ca_dir.parent)
    relative = f"{loopback_pki.ca_dir.name}::"  # empty entries are skipped, as OpenSSL does
    assert read_egress({"SSL_CERT_DIR": relative}).trust.ca_dir == str(loopback_pki.ca_dir)


@pytest.mark.parametrize(
    ("variable", "make", "phrase"),
    [
        ("SSL_CERT_FILE", lambda p: p / "missing.pem", "is not a file"),
        ("SSL_CERT_FILE", lambda p: p, "is not a file"),
        (
            "SSL_CERT_FILE",
            lambda p: _write(p / "empty.pem", b""),
            "is not a readable PEM CA bundle",
        ),
        (
            "SSL_CERT_FILE",
            lambda p: _write(p / "junk.pem", b"-----BEGIN CERTIFICATE-----\nnot base64\n"),
            "is not a readable PEM CA bundle",
        ),
        ("SSL_CERT_DIR", lambda p: p / "missing", "is not a readable directory"),
        ("SSL_CERT_DIR", lambda p: _write(p / "ca.pem", b"").parent, "holds no hashed CA"),
    ],
)
def test_an_unusable_ca_bundle_is_refused(
    variable: str, make: Callable[[Path], Path], phrase: str, tmp_path: Path
) -> None:
    path = make(tmp_path)
    with pytest.raises(NetworkSetupError) as caught:
        read_egress({variable: str(path)})
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_BLOCKED
    assert message.startswith(f"{variable} {path}") and phrase in message
    assert "\n" not in message and message.endswith("nothing was sent")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
