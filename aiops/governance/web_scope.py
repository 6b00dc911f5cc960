"""The web part of a capability scope: the domain allow-list as the API takes it, and
the host of a URL as the allow-list check reads it.

Standard library only: ``verify-pack`` (which loads no Pydantic) re-derives the checks
with these same functions.

**Translation** (scope -> Responses ``filters.allowed_domains``): the API takes bare
domains, without a scheme, and includes their subdomains; so the scope's ``*.example.com``
becomes ``example.com`` and ``example.com`` stays as it is — both mean the domain and
every subdomain, in the request and in aiops' own check alike. An entry the API cannot
express (a scheme, a path, a port, a wildcard anywhere but a leading ``*.``, an IP
address, a single label such as ``com``) is a config error naming the entry; at most
``MAX_API_DOMAINS`` domains.

**Hosts** (``url_host``): the host a browser would connect to, compared in one form:
lower case, without a trailing dot, IDNA (punycode) for non-ASCII labels, without
userinfo (the part before the *last* ``@``) or port. A URL that is not http(s), whose
authority holds a backslash, percent-escapes, whitespace or an IP literal, or whose
host is not a valid domain name has no host: it is never in the allow-list.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_API_DOMAINS = 100
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class DomainError(ValueError):
    """A scope entry the API's domain filter cannot express (the message names it)."""


def _ascii_host(name: str) -> str | None:
    """``name`` as lower-case ASCII labels (IDNA for non-ASCII), or None when it is
    not a domain name of at least two labels (an IP address is not one)."""
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():  # 10.0.0.1, 192.168.1.1: an address, not a domain
        return None
    return name


def api_domain(entry: str) -> str:
    """One scope entry as an API domain, or ``DomainError`` saying why it cannot be."""
    shown = repr(entry)
    if _SCHEME.match(entry):
        raise DomainError(f"{shown}: no scheme (the API takes bare domains)")
    if any(mark in entry for mark in "/?#"):
        raise DomainError(f"{shown}: a path cannot be expressed (domains only)")
    if "@" in entry:
        raise DomainError(f"{shown}: userinfo cannot be expressed (domains only)")
    if ":" in entry or entry.startswith("["):
        raise DomainError(f"{shown}: a port or an IPv6 address cannot be expressed")
    name = entry[2:] if entry.startswith("*.") else entry
    if "*" in name:
        raise DomainError(f"{shown}: a wildcard is only allowed as a leading '*.'")
    host = _ascii_host(name)
    if host is None or name.endswith("."):
        raise DomainError(
            f"{shown}: not a domain name of at least two labels (IP addresses, single "
            "labels and trailing dots cannot be expressed)"
        )
    return host


def api_domains(entries: list[str]) -> list[str]:
    """The scope's ``allowed_domains`` as the request's filter: translated, in order,
    each once; ``DomainError`` for the first entry that cannot be expressed, for an
    empty list (the API would then allow every domain) and for more than 100."""
    if not entries:
        raise DomainError("no domains: an empty filter would let the model search anywhere")
    domains = list(dict.fromkeys(api_domain(entry) for entry in entries))
    if len(domains) > MAX_API_DOMAINS:
        raise DomainError(f"{len(domains)} domains; the API takes at most {MAX_API_DOMAINS}")
    return domains


def url_host(url: str) -> str | None:
    """The host ``url`` leads to, normalised; None when it has none we can trust."""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    if "\\" in url:  # browsers read a backslash as a slash: 'evil.com\@good.com'
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    authority = parts.netloc.rpartition("@")[2]  # userinfo: up to the last '@'
    if not authority or "%" in authority or authority.startswith("["):
        return None
    host, colon, port = authority.partition(":")
    if colon and not (port.isdigit() and port.isascii()) and port != "":
        return None
    return _ascii_host(host)


def host_allowed(host: str | None, domains: list[str]) -> bool:
    """``host`` is one of ``domains`` (API form) or a subdomain of one."""
    if host is None:
        return False
    return any(host == domain or host.endswith("." + domain) for domain in domains)
