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
import re
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
_HASHED_CERTIFICATE = re.compile(r"[0-9a-f]{8}\.[0-9]+")


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
        """Proxy or direct for ``base_url`` (http or https, no credentials, checked by
        ``base_url_problem``). An IPv6 literal that would go through a proxy is refused
        (exit 2)."""
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
        if parts.netloc.startswith("["):
            # httpcore writes an IPv6 literal unbracketed into CONNECT and absolute-form
            # request lines ("CONNECT ::1:443"): a proxy refuses it or reads another
            # destination. Refused here rather than sent malformed.
            raise NetworkSetupError(
                f"{base_url} is an IPv6 address, which cannot be reached through the proxy "
                f"from {proxy.variable}: name it in NO_PROXY as {parts.netloc.split(']')[0]}] "
                "or use a host name; nothing was sent"
            )
        return Route(proxy, proxy.variable)


def base_url_problem(base_url: str) -> str | None:
    """Why ``base_url`` cannot be sent to, or ``None``: it must parse, with a host and a
    port in range, for both the standard library (routes, proxy bypass) and httpx (the
    requests), and hold no whitespace or control character. Checked before anything is
    sent, so a malformed URL is one line (exit 2), not an error deep in a request."""
    import httpx

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in base_url):
        return "it contains whitespace or a control character"
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        return str(exc).strip() or "it cannot be parsed"
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return "it is not an http(s) URL with a host"
    if port == 0:
        return "port 0 cannot be connected to"
    try:
        url = httpx.URL(base_url)
        if not url.host:  # decodes an IDNA name ("xn--..."), as building a request does
            return "it has no host"
    except (httpx.InvalidURL, ValueError):  # IDNA errors are ValueErrors too
        return "httpx cannot parse it"
    return None


def read_egress(environ: Mapping[str, str] | None = None) -> Egress:
    """Proxies and trust from ``environ`` (default ``os.environ``), every set proxy
    variable parsed and the CA bundle loaded now: a problem refuses the run (exit 2)
    before anything is sent."""
    env = os.environ if environ is None else environ
    found = proxy_variables(env)
    proxies = {
        scheme: parse_proxy(found[scheme][1], found[scheme][0])
        for scheme in PROXY_SCHEMES
        if scheme in found
    }
    no_variable, no_proxy = found["no"] if "no" in found else ("NO_PROXY", None)
    trust = read_trust(env)
    tls_context(trust)  # loads the bundle: a bad one stops the run here
    return Egress(proxies, no_proxy, no_variable, trust)


def proxy_variables(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``urllib.request.getproxies_environment()`` over ``env``, keeping the name of
    the variable each value came from: scheme -> (variable, value), ``"no"`` for
    NO_PROXY. The stdlib's two passes: any case first, then names ending in lower-case
    ``_proxy`` again (they win; an empty one unsets); in a CGI environment
    (``REQUEST_METHOD``) the first pass's ``HTTP_PROXY`` is dropped (CVE-2016-1000110).
    The stdlib reads only ``os.environ``; tests hold the two equal on it."""
    found: dict[str, tuple[str, str]] = {}
    for name, value in env.items():
        if value and name[-6:].lower() == "_proxy":
            found[name[:-6].lower()] = (name, value)
    if "REQUEST_METHOD" in env:
        found.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            if value:
                found[name[:-6].lower()] = (name, value)
            else:
                found.pop(name[:-6].lower(), None)
    return found


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
    try:
        parts = urlsplit(text)
    except ValueError:  # "Invalid IPv6 URL": an unclosed "["
        raise refuse("it cannot be parsed") from None
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
    """``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (empty counts as unset), made
    absolute (the pack records them; the TLS context is cached by them) and checked:
    the file exists; ``SSL_CERT_DIR``, a list of directories separated by ``:`` as
    OpenSSL reads it, names readable directories holding hashed certificates
    (``openssl rehash``), or it would trust nothing. ``tls_context`` proves the
    bundle loads."""
    ca_file = env.get("SSL_CERT_FILE") or None
    ca_dir = env.get("SSL_CERT_DIR") or None
    if ca_file is not None:
        ca_file = os.path.abspath(ca_file)
        if not os.path.isfile(ca_file):
            raise NetworkSetupError(
                f"SSL_CERT_FILE {ca_file} is not a file: cannot trust its CA bundle; "
                "nothing was sent"
            )
    if ca_dir is not None:
        ca_dir = os.pathsep.join(_certificate_directories(ca_dir))
    return TlsTrust(ca_file, ca_dir)


def _certificate_directories(value: str) -> list[str]:
    """Each directory named by ``SSL_CERT_DIR``, absolute; refused unless every one is
    a readable directory and they hold at least one hashed certificate between them
    (OpenSSL looks certificates up by ``<subject hash>.<n>`` only)."""
    directories = [os.path.abspath(d) for d in value.split(os.pathsep) if d]
    hashed = False
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            raise NetworkSetupError(
                f"SSL_CERT_DIR {directory} is not a readable directory: cannot trust its "
                "CA certificates; nothing was sent"
            ) from None
        hashed = hashed or any(_HASHED_CERTIFICATE.fullmatch(name) for name in names)
    if not hashed:
        raise NetworkSetupError(
            f"SSL_CERT_DIR {os.pathsep.join(directories) or value} holds no hashed CA "
            "certificates (<hash>.0 names, made by openssl rehash): it would trust "
            "nothing; nothing was sent"
        )
    return directories


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
