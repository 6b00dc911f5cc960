"""How record and live requests leave the process: through a proxy or direct, and
which certificate authorities the TLS context trusts.

The HTTP client is built with ``trust_env=False`` (no ``.netrc`` credentials, nothing
picked up silently). What the environment may say about the network is read here,
explicitly, once per run, and shown on the banner and recorded in the pack:

- Proxies: the standard variables, parsed by the standard library
  (``urllib.request.getproxies_environment`` / ``proxy_bypass_environment``, so lower
  and upper case and the ``NO_PROXY`` rules are Python's own). An ``https://`` base URL
  uses ``HTTPS_PROXY``, an ``http://`` one ``HTTP_PROXY``; either falls back to
  ``ALL_PROXY``. ``NO_PROXY`` wins. Loopback hosts get no special case: they go through
  the proxy unless ``NO_PROXY`` names them.
- Trust: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (what corporate images set for
  an inspecting proxy's CA), else certifi's bundle. One TLS context per process.

A proxy URL may carry credentials (``http://user:password@proxy:8080``). It is a
``SecretStr`` from the moment it is read and unwrapped only where the proxy transport
is built; everywhere else a proxy is ``scheme://host:port``. A set proxy variable that
does not parse, or a CA bundle that cannot be loaded, refuses the run before anything
is sent (exit 2): never silently direct when a proxy is configured.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from aiops.errors import NetworkSetupError

if TYPE_CHECKING:
    import ssl

    import httpx

# The proxy variables aiops reads (the stdlib's keys: "<scheme>_proxy" lower-cased).
PROXY_SCHEMES = ("http", "https", "all")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Proxy:
    """A parsed proxy. ``shown`` is what is printed and recorded; ``url`` (with any
    credentials) only ever reaches the proxy transport."""

    url: SecretStr
    shown: str  # scheme://host:port
    variable: str  # the environment variable it came from, e.g. "HTTPS_PROXY"


@dataclass(frozen=True)
class Route:
    """How requests to one base URL leave: ``proxy`` or direct (``None``).
    ``decided_by`` names the variable that decided, or ``None`` when none applies."""

    proxy: Proxy | None = None
    decided_by: str | None = None

    def describe(self) -> str:
        if self.proxy is not None:
            return f"via proxy {self.proxy.shown} ({self.proxy.variable})"
        return f"direct ({self.decided_by})" if self.decided_by else "direct"


DIRECT = Route()


@dataclass(frozen=True)
class TlsTrust:
    """Which CA certificates verify servers (and an HTTPS proxy): the bundle named by
    ``SSL_CERT_FILE`` and/or the directory named by ``SSL_CERT_DIR``, else certifi's."""

    ca_file: str | None = None
    ca_dir: str | None = None

    @property
    def from_environment(self) -> bool:
        return self.ca_file is not None or self.ca_dir is not None

    def describe(self) -> str:
        if not self.from_environment:
            return "certifi"
        parts = [f"SSL_CERT_FILE {self.ca_file}"] if self.ca_file else []
        parts += [f"SSL_CERT_DIR {self.ca_dir}"] if self.ca_dir else []
        return ", ".join(parts)


CERTIFI = TlsTrust()


@dataclass(frozen=True)
class Egress:
    """The run's proxies and trust, read from the environment once."""

    proxies: Mapping[str, Proxy] = field(default_factory=dict)  # "http"/"https"/"all"
    no_proxy: str | None = None  # NO_PROXY's value, as the stdlib reads it
    no_proxy_variable: str = "NO_PROXY"
    trust: TlsTrust = CERTIFI

    def route(self, base_url: str) -> Route:
        """Proxy or direct for ``base_url`` (http or https, no credentials)."""
        parts = urlsplit(base_url)
        scheme = parts.scheme.lower()
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy is None:
            return DIRECT
        bypass = {"no": self.no_proxy} if self.no_proxy is not None else {}
        # Not in typeshed, but the function urllib's own ProxyHandler relies on (and
        # requests): NO_PROXY's host and host:port suffix rules and "*".
        bypassed = urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            parts.netloc.lower(), bypass
        )
        if bypassed:
            return Route(None, self.no_proxy_variable)
        return Route(proxy, proxy.variable)


def read_egress(environ: Mapping[str, str] | None = None) -> Egress:
    """Proxies and trust from ``environ`` (default ``os.environ``), every set proxy
    variable parsed and the CA bundle loaded now: a problem refuses the run (exit 2)
    before anything is sent."""
    env = os.environ if environ is None else environ
    found = _environment_proxies(environ)
    proxies = {
        scheme: parse_proxy(found[scheme], _variable(env, f"{scheme}_proxy"))
        for scheme in PROXY_SCHEMES
        if scheme in found
    }
    trust = read_trust(env)
    tls_context(trust)  # loads the bundle: a bad one stops the run here
    return Egress(proxies, found.get("no"), _variable(env, "no_proxy"), trust)


def _environment_proxies(environ: Mapping[str, str] | None) -> dict[str, str]:
    """``urllib.request.getproxies_environment()``: scheme -> value, ``"no"`` ->
    NO_PROXY. The stdlib reads ``os.environ`` only; for a given mapping (a run started
    with its own environment) the same two passes run over it, lower case winning
    (tests hold the two equal)."""
    if environ is None or environ is os.environ:
        return urllib.request.getproxies_environment()
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        name = name.lower()
        if value and name[-6:] == "_proxy":
            proxies[name[:-6]] = value
    if "REQUEST_METHOD" in environ:  # CVE-2016-1000110, as in the stdlib
        proxies.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            name = name.lower()
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def _variable(env: Mapping[str, str], lower: str) -> str:
    """The name the value came from: the lower-case spelling wins, as in the stdlib."""
    if env.get(lower):
        return lower
    for name, value in env.items():
        if name.lower() == lower and value:
            return name
    return lower.upper()


def parse_proxy(value: str, variable: str) -> Proxy:
    """A proxy URL as curl and httpx read it (``host:port`` alone means ``http://``).
    Refused with one line naming ``variable`` — never its value, which may hold a
    password — unless it is an http(s) URL with a host and a numeric port and nothing
    after them."""
    import httpx

    def refuse(why: str) -> NetworkSetupError:
        return NetworkSetupError(
            f"{variable} is not a usable proxy URL ({why}); expected "
            "http://[user:password@]host:port; nothing was sent"
        )

    text = value.strip()
    if not text or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise refuse("empty or contains whitespace")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme.startswith("socks"):
        raise refuse("SOCKS proxies are not supported")
    if scheme not in _DEFAULT_PORTS:
        raise refuse("the scheme must be http or https")
    try:
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise refuse("the port is not a number from 0 to 65535") from None
    if not host:
        raise refuse("no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise refuse("a proxy URL has no path, query or fragment")
    try:
        httpx.Proxy(text)  # what the transport will build: it must accept it too
    except (httpx.InvalidURL, ValueError):
        raise refuse("httpx cannot parse it") from None
    port = port if port is not None else _DEFAULT_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    return Proxy(SecretStr(text), f"{scheme}://{shown_host}:{port}", variable)


def read_trust(env: Mapping[str, str]) -> TlsTrust:
    """``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (empty counts as unset), checked
    to exist; ``tls_context`` proves the bundle loads."""
    ca_file = env.get("SSL_CERT_FILE") or None
    ca_dir = env.get("SSL_CERT_DIR") or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise NetworkSetupError(
            f"SSL_CERT_FILE {ca_file} is not a file: cannot trust its CA bundle; nothing was sent"
        )
    if ca_dir is not None and not (os.path.isdir(ca_dir) and os.access(ca_dir, os.R_OK | os.X_OK)):
        raise NetworkSetupError(
            f"SSL_CERT_DIR {ca_dir} is not a readable directory: cannot trust its CA "
            "certificates; nothing was sent"
        )
    return TlsTrust(ca_file, ca_dir)


@cache
def tls_context(trust: TlsTrust = CERTIFI) -> ssl.SSLContext:
    """One verifying TLS context per process (per trust setting, and a run has one),
    shared by every client: loading a CA bundle is the costliest part of building an
    HTTP client (tens of milliseconds)."""
    import ssl

    if not trust.from_environment:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    try:
        return ssl.create_default_context(cafile=trust.ca_file, capath=trust.ca_dir)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "unreadable"
        raise NetworkSetupError(
            f"{trust.describe()} is not a readable PEM CA bundle ({reason}); nothing was sent"
        ) from None


def proxy_mounts(
    routes: Iterable[tuple[str, Route]], context: ssl.SSLContext
) -> dict[str, httpx.BaseTransport | None]:
    """httpx mounts sending each proxied base URL's origin through its proxy (the TLS
    context verifies the servers behind it and an HTTPS proxy itself). The one place
    a proxy's URL, credentials included, is unwrapped."""
    import httpx

    mounts: dict[str, httpx.BaseTransport | None] = {}
    for base_url, route in routes:
        if route.proxy is None:
            continue
        parts = urlsplit(base_url)
        url = route.proxy.url.get_secret_value()
        https_proxy = route.proxy.shown.startswith("https://")  # TLS to the proxy too
        proxy = httpx.Proxy(url, ssl_context=context if https_proxy else None)
        mounts[f"{parts.scheme.lower()}://{parts.netloc}"] = httpx.HTTPTransport(
            verify=context, trust_env=False, proxy=proxy
        )
    return mounts
