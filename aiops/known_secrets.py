"""The secret values a run knows, in every form they could be written back to it.

A run knows its secrets from the environment: the key variable of every provider in
the registry (whatever its shape), the password of every proxy variable, and any
password or query value in a provider's base-URL variable (such a URL is refused
before anything is sent, but its values are still never written). Each value
is also known in the forms a server or a model could echo it: percent-encoded,
percent-decoded, Base64 (standard and URL-safe, with and without padding), and for a
proxy the Base64 of ``user:password`` that ``Proxy-Authorization: Basic`` carries.

``collect`` reads them; ``activate`` makes them the process's known set, which
``aiops.redact`` removes from every message, log line and stored model text. A CLI
command is one process and one run, so one set is enough; ``activate`` replaces it.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit

SecretKind = Literal["provider_key", "proxy_password", "url_credential"]
# Shorter values are not treated as secrets: replacing them would erase ordinary words.
MIN_SECRET_CHARS = 8
_PROXY_SCHEMES = ("http", "https", "all")
_VERSION_LIKE = re.compile(r"[0-9.\-]*")


@dataclass(frozen=True)
class KnownSecrets:
    """Each form a secret may take, paired with its kind, longest form first (so a
    form that contains another is replaced whole)."""

    forms: tuple[tuple[str, SecretKind], ...] = ()

    def merged(self, other: KnownSecrets) -> KnownSecrets:
        return _known(list(self.forms) + list(other.forms))


def _encodings(value: str) -> set[str]:
    """``value`` as given, percent-encoded and -decoded, and Base64-encoded."""
    found = {value, quote(value, safe=""), quote_plus(value), unquote(value), unquote_plus(value)}
    for text in list(found):
        found |= _base64(text)
    return found


def _base64(text: str) -> set[str]:
    raw = text.encode("utf-8", "surrogatepass")
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return forms | {form.rstrip("=") for form in forms}


def _known(pairs: Iterable[tuple[str, SecretKind]]) -> KnownSecrets:
    best: dict[str, SecretKind] = {}
    for form, kind in pairs:
        if len(form) >= MIN_SECRET_CHARS:
            best.setdefault(form, kind)
    ordered = sorted(best.items(), key=lambda item: (-len(item[0]), item[0]))
    return KnownSecrets(tuple(ordered))


def from_values(values: Iterable[str], kind: SecretKind) -> KnownSecrets:
    """``values`` (e.g. provider keys) in all their forms."""
    return _known((form, kind) for value in values for form in _encodings(value))


def collect(
    key_variables: Iterable[str],
    base_url_variables: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> KnownSecrets:
    """The secrets ``environ`` (default ``os.environ``) holds for the named provider
    key and base-URL variables, and in its proxy variables."""
    env = os.environ if environ is None else environ
    pairs: list[tuple[str, SecretKind]] = []
    for name in dict.fromkeys(key_variables):
        value = env.get(name, "")
        pairs += [(form, "provider_key") for form in _encodings(value)] if value else []
    for name, value in env.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy") and lowered[:-6] in _PROXY_SCHEMES:
            pairs += _url_secrets(value, "proxy_password")
    for name in dict.fromkeys(base_url_variables):
        pairs += _url_secrets(env.get(name, ""), "url_credential")
    return _known(pairs)


class _Provider(Protocol):
    @property
    def api_key_env(self) -> str: ...

    @property
    def base_url_env(self) -> str: ...


def collect_for(
    providers: Iterable[_Provider], environ: Mapping[str, str] | None = None
) -> KnownSecrets:
    """``collect`` for the key and base-URL variables of ``providers`` (the registry's)."""
    providers = list(providers)
    return collect([p.api_key_env for p in providers], [p.base_url_env for p in providers], environ)


def _url_secrets(value: str, kind: SecretKind) -> list[tuple[str, SecretKind]]:
    """The password, ``user:password`` and its ``Basic`` token of a URL's userinfo
    (``kind``), and its query string and query values (``url_credential``). A user name
    alone is not a secret (it is often an ordinary word), nor is a query value that is
    only digits, dots and dashes (``api-version=2024-10-21``)."""
    text = value.strip()
    if not text:
        return []
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
    except ValueError:  # refused later as unusable; until then the whole value is secret
        return [(text, kind)]
    pairs: list[tuple[str, SecretKind]] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        for raw in {userinfo, f"{unquote(user)}:{unquote(password)}"}:
            pairs += [(form, kind) for form in _base64(raw)]  # Basic <token>
            pairs.append((raw, kind))
        pairs += [(form, kind) for form in _encodings(password)] if password else []
    if parts.query:
        pairs += [(form, "url_credential") for form in _encodings(parts.query)]
        for _, query_value in parse_qsl(parts.query):
            if not _VERSION_LIKE.fullmatch(query_value):
                pairs += [(form, "url_credential") for form in _encodings(query_value)]
    return pairs


_active = KnownSecrets()


def activate(known: KnownSecrets) -> None:
    """Make ``known`` the process's set of known secrets (the run's)."""
    global _active
    _active = known


def active() -> KnownSecrets:
    """The process's set of known secrets (empty until a run activates its own)."""
    return _active
