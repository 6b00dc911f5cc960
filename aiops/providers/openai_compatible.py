"""What every OpenAI-compatible endpoint shares: where it is, its key, the HTTP call
and how a failure is classified.

The base URL and key come from the environment variables the registry names for the
provider (``base_url_env``, ``api_key_env``). The key is a ``SecretStr`` from the moment
it is read and is unwrapped in exactly one place: where the Authorization header is
built. Error messages are built from our own words plus a trimmed, redacted excerpt of
the provider's text — never from headers, and never containing the key. A server's
``retry-after-ms`` / ``retry-after`` is read by ``retry.parse_retry_after`` (the one
parser); each request's timeouts are capped by what is left of the run deadline.

Where requests go (direct or through a proxy) and which CAs the TLS context trusts is
``egress.py``'s: an endpoint carries its ``Route``, the client its ``TlsTrust``.

httpx is imported only when a real client is built, so the replay path never loads it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from aiops.errors import MissingCredentialError
from aiops.providers.base import (
    Attempt,
    Exchange,
    ModelRequest,
    ProgressSink,
    ProviderCallError,
)
from aiops.providers.egress import (
    CERTIFI,
    DIRECT,
    Route,
    TlsTrust,
    proxy_mounts,
    tls_context,
)
from aiops.providers.long_http import (
    Answer,
    Reporter,
    Sent,
    background_answer,
    read_json,
    stream_answer,
)
from aiops.providers.retry import Deadline, parse_retry_after
from aiops.providers.wire import WireFormat, build_exchange, wire_for
from aiops.redact import scrub_secrets
from aiops.schemas.registry import FallbackPolicy, Provider

if TYPE_CHECKING:
    import ssl

    import httpx

NOT_RETRYABLE = {400: "bad_request", 401: "authentication", 403: "permission", 404: "not_found"}


@dataclass(frozen=True)
class Endpoint:
    """A provider's resolved location, credential and route. ``repr`` never shows the
    key (nor a proxy's credentials)."""

    provider_id: str
    base_url: str
    api_key: SecretStr | None
    api_key_env: str
    route: Route = DIRECT
    api_key_source: str | None = None  # environment, env file or secrets dir (never the key)


def resolve_endpoint(
    provider_id: str, provider: Provider, environ: Mapping[str, str] | None = None
) -> Endpoint:
    """Base URL from ``base_url_env`` (else the registry's), key from ``api_key_env``.
    A required key that is unset, or a base URL that is not http(s) or could carry a
    credential (user:password@, a query string, a fragment), is refused before any
    request (exit 2), in a line that names the variable and never echoes its value."""
    env = os.environ if environ is None else environ
    base_url = (env.get(provider.base_url_env) or provider.base_url).rstrip("/")
    name, whose = provider.base_url_env, f"(provider {provider_id}); nothing was sent"
    if not re.match(r"^https?://[^\s/?#@]+", base_url) or re.search(r"\s", base_url):
        raise MissingCredentialError(f"{name} is not an http(s) URL {whose}")
    # The URL goes into attempts, messages, logs and packs: it must hold no secret.
    netloc = base_url.split("://", 1)[1].split("/", 1)[0]
    if "@" in netloc:
        raise MissingCredentialError(
            f"{name} carries credentials (user:password@host); remove them and put the "
            f"key in {provider.api_key_env} {whose}"
        )
    if "?" in base_url or "#" in base_url:
        raise MissingCredentialError(
            f"{name} has a query string or fragment, which may carry a credential and "
            f"would be recorded; remove it and put the key in {provider.api_key_env} {whose}"
        )
    raw_key = env.get(provider.api_key_env, "")
    if not raw_key and provider.api_key_required:
        raise MissingCredentialError(
            f"{provider.api_key_env} is not set: provider {provider_id} needs an API key "
            "in the environment, the env file or the secrets directory"
        )
    from aiops.secret_sources import key_source

    return Endpoint(
        provider_id,
        base_url,
        SecretStr(raw_key) if raw_key else None,
        provider.api_key_env,
        api_key_source=key_source(env, provider.api_key_env) if raw_key else None,
    )


def redact(text: str, secret: SecretStr | None) -> str:
    """Remove the key itself, every secret the run knows (other providers' keys, proxy
    and URL credentials, in all their encodings) and anything key-shaped from provider
    text (one line)."""
    return scrub_secrets(text, [secret.get_secret_value()] if secret is not None else [])


def _provider_error(body: Any) -> tuple[str, str, str]:
    """(code, type, message) from an OpenAI-style error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return (
            str(error.get("code") or ""),
            str(error.get("type") or ""),
            str(error.get("message") or ""),
        )
    if isinstance(error, str):
        return "", "", error
    return "", "", ""


# A gateway (LiteLLM, say) rewraps the provider's error: the provider's ``code`` ends up
# inside the message (``litellm.RateLimitError: … "code": "insufficient_quota" …``) or is
# dropped for its message alone (LiteLLM 1.108: ``OpenAIException - You exceeded your
# current quota …``), ``code`` becomes the status as a string and ``type`` is renamed
# (``throttling_error``). These read the provider's words wherever they are. A key the
# gateway does not know is a 400 there (LiteLLM without a key database:
# ``no_db_connection``); it still gets the hint naming the key variable.
_QUOTA = re.compile(r"\binsufficient_quota\b|\bexceeded your current quota\b", re.IGNORECASE)
_UNKNOWN_MODEL = re.compile(
    r"\bmodel_not_found\b|\binvalid model name\b|\bunknown model\b|"
    r"\bmodel\b[^.\n]{0,80}\b(?:does not exist|not found|is not supported|not available)",
    re.IGNORECASE,
)
_BAD_KEY = re.compile(
    r"\binvalid_api_key\b|\bauthentication(?:error| error| failed)|\bincorrect api key\b|"
    r"\binvalid (?:api |proxy server |virtual )?(?:key|token)\b|\bapi key\b[^.\n]{0,40}"
    r"\b(?:invalid|missing|not valid|expected)|\bvirtual key expected\b|\bno_db_connection\b|"
    r"\binvalid proxy server token\b",
    re.IGNORECASE,
)


def _said(pattern: re.Pattern[str], code: str, kind: str, message: str) -> bool:
    return any(pattern.search(part) for part in (code, kind, message))


def classify_http_error(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    url: str,
    key: SecretStr | None,
    key_env: str,
) -> ProviderCallError:
    code, kind, message = _provider_error(body)
    excerpt = redact(message, key)[:200]  # redacted whole, then cut: no key half survives
    where = f"HTTP {status} from {url}"
    detail = f": {excerpt}" if excerpt else ""
    if status in (401, 403) or (status == 400 and _said(_BAD_KEY, code, kind, message)):
        # No excerpt: a provider's text here may quote part of the key it refused.
        error_class = NOT_RETRYABLE[401 if status == 400 else status]
        return ProviderCallError(
            f"{where}: {error_class} failed (check {key_env})",
            error_class=error_class,
            retryable=False,
            fallback_ok=True,
            http_status=status,
        )
    if status == 429 and _said(_QUOTA, code, kind, message):
        return ProviderCallError(
            f"{where}: insufficient quota (billing), not retried",
            error_class="insufficient_quota",
            retryable=False,
            fallback_ok=True,
            http_status=status,
        )
    if status in (400, 404) and _said(_UNKNOWN_MODEL, code, kind, message):
        return ProviderCallError(
            f"{where}: the endpoint does not serve this model{detail}",
            error_class="model_not_found",
            retryable=False,
            fallback_ok=True,
            http_status=status,
        )
    if status == 429:
        return ProviderCallError(
            f"{where}: rate limited{detail}",
            error_class="rate_limit",
            retryable=True,
            http_status=status,
            retry_after_s=parse_retry_after(headers, datetime.now(UTC)),
        )
    if status in (408, 409) or status >= 500:
        return ProviderCallError(
            f"{where}{detail}",
            error_class="timeout"
            if status == 408
            else ("conflict" if status == 409 else "server_error"),
            retryable=True,
            http_status=status,
            retry_after_s=parse_retry_after(headers, datetime.now(UTC)),
        )
    return ProviderCallError(
        f"{where}{detail}",
        error_class=NOT_RETRYABLE.get(status, "http_error"),
        retryable=False,
        fallback_ok=True,
        http_status=status,
    )


def _where(url: str, route: Route) -> str:
    return url if route.proxy is None else f"{url} via proxy {route.proxy.shown}"


def transport_error(
    exc: Exception, url: str, route: Route, trust: TlsTrust, key: SecretStr | None = None
) -> ProviderCallError:
    """A request that got no HTTP response, classified. A certificate the trusted CAs do
    not sign (an inspecting proxy's, say) or a handshake the two ends cannot agree on
    is not retried, and says which CAs were trusted. A proxy's refusal says so; a 4xx
    from the proxy (407 credentials, 403 destination not allowed) is not retried,
    except 408 and 429. Anything else, a connection dropped during the handshake
    included, is a retryable connection error."""
    import ssl

    import httpx

    where = _where(url, route)
    tls = _cause(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return ProviderCallError(
            f"TLS certificate of {where} is not trusted ({tls.verify_message}; trusted CAs: "
            f"{trust.describe()}): set SSL_CERT_FILE to the CA bundle that signs it",
            error_class="tls",
            retryable=False,
        )
    if isinstance(tls, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        return ProviderCallError(
            f"cannot reach {where}: connection closed during the TLS handshake",
            error_class="connection",
            retryable=True,
        )
    if tls is not None:
        return ProviderCallError(
            f"TLS handshake failed calling {where} ({tls.reason or type(tls).__name__})",
            error_class="tls",
            retryable=False,
        )
    if isinstance(exc, httpx.ProxyError):
        detail = redact(str(exc), key)[:200]  # the proxy's status line, e.g. 407
        status = detail.split(" ", 1)[0]
        refused = status.isdigit() and 400 <= int(status) < 500 and status not in ("408", "429")
        return ProviderCallError(
            f"proxy refused calling {where}: {detail or type(exc).__name__}",
            error_class="proxy",
            retryable=not refused,
        )
    return ProviderCallError(
        f"cannot reach {where}: {type(exc).__name__}", error_class="connection", retryable=True
    )


def _cause(exc: BaseException, kind: type[ssl.SSLError]) -> ssl.SSLError | None:
    """The first ``kind`` in ``exc``'s chain of causes (httpx wraps httpcore wraps ssl)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class OpenAICompatibleClient:
    """The real ``ModelClient``: one HTTP client; the wire format (Responses or Chat
    Completions) is picked per request from the registry's endpoint kind."""

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        policy: FallbackPolicy,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.perf_counter,
        deadline: Deadline | None = None,
        trust: TlsTrust = CERTIFI,
        progress: ProgressSink | None = None,
    ) -> None:
        """``transport`` replaces the network for every endpoint (tests); otherwise
        each endpoint's route decides: direct, or through its proxy. ``progress`` is
        told of every attempt as it runs (the terminal's progress line)."""
        import httpx

        self._endpoints = dict(endpoints)
        self._clock = clock
        self._policy = policy
        self._deadline = deadline
        self._trust = trust
        self._progress = progress
        self._tries: dict[tuple[str, str], int] = {}  # attempts so far, per role and model
        context = tls_context(trust)
        routes = [(e.base_url, e.route) for e in self._endpoints.values()]
        self._http = httpx.Client(
            timeout=httpx.Timeout(
                policy.request_timeout_seconds, connect=policy.connect_timeout_seconds
            ),
            transport=transport,
            mounts=None if transport is not None else proxy_mounts(routes, context),
            verify=context,
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAICompatibleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, request: ModelRequest) -> Exchange:
        key = (request.role, request.model_id)
        self._tries[key] = attempt_no = self._tries.get(key, 0) + 1
        report = Reporter(self._progress, request, attempt_no)
        report("started")
        result: Attempt | None = None
        try:
            exchange = self._call(request, report)
            result = exchange.attempts[-1] if exchange.attempts else None
            return exchange
        except ProviderCallError as error:
            result = error.attempts[-1] if error.attempts else None
            raise
        finally:
            report("finished", result=result)

    def _call(self, request: ModelRequest, report: Reporter) -> Exchange:
        import httpx

        wire = wire_for(request.model.endpoint)
        endpoint = self._endpoints[request.provider_id]
        url = endpoint.base_url + wire.path
        body = wire.build_body(request)  # exactly what is sent, recorded and hashed
        mode = request.model.effective_call_mode
        accept = "text/event-stream" if mode == "stream" else "application/json"
        headers = {"Content-Type": "application/json", "Accept": accept}
        if endpoint.api_key is not None:
            headers["Authorization"] = "Bearer " + endpoint.api_key.get_secret_value()
        started = self._clock()

        def attempt(status: int | None, error: ProviderCallError | None) -> Attempt:
            return Attempt(
                model_id=request.model_id,
                endpoint=url,
                http_status=status,
                error_class=error.error_class if error else None,
                error_message=error.message if error else None,
                latency_ms=int((self._clock() - started) * 1000),
            )

        sent = Sent(
            url,
            _where(url, endpoint.route),
            json.dumps(body).encode("utf-8"),
            headers,
            self._call_seconds(),
            report,
        )
        try:
            answer = self._send(wire, mode, sent, endpoint)
        except httpx.TimeoutException:
            error = ProviderCallError(
                f"timed out calling {sent.shown}", error_class="timeout", retryable=True
            )
        except httpx.HTTPError as exc:
            error = transport_error(exc, url, endpoint.route, self._trust, endpoint.api_key)
        except ProviderCallError as failed:  # a stream cut or failed, a poll given up
            error = failed
            error.message = redact(error.message, endpoint.api_key)
        else:
            return self._finish(request, wire, body, answer, endpoint, attempt)
        error.attempts = [attempt(error.http_status, error)]
        raise error

    def _send(self, wire: WireFormat, mode: str, sent: Sent, endpoint: Endpoint) -> Answer:
        if mode == "stream":
            return stream_answer(self._http, wire.kind, sent, self._timeout())
        if mode == "background":
            return background_answer(
                self._http,
                sent,
                self._timeout,
                self._policy.poll_interval_seconds,
                lambda failed: self._http_error(failed, sent.shown, endpoint),
                lambda exc: transport_error(
                    exc, sent.url, endpoint.route, self._trust, endpoint.api_key
                ),
            )
        response = self._http.post(
            sent.url, content=sent.body, headers=sent.headers, timeout=self._timeout()
        )
        return Answer(response.status_code, read_json(response.content), response.headers)

    def _call_seconds(self) -> float:
        """The call's time limit: the request timeout, capped by the run deadline."""
        limit = self._policy.request_timeout_seconds
        return limit if self._deadline is None else min(limit, self._deadline.remaining())

    def _http_error(self, answer: Answer, shown: str, endpoint: Endpoint) -> ProviderCallError:
        return classify_http_error(
            answer.status,
            answer.payload,
            answer.headers,
            url=shown,
            key=endpoint.api_key,
            key_env=endpoint.api_key_env,
        )

    def _timeout(self) -> Any:
        """The policy's timeouts, each capped by what is left of the run deadline."""
        import httpx

        if self._deadline is None:
            return httpx.USE_CLIENT_DEFAULT
        left = max(self._deadline.remaining(), 0.001)
        return httpx.Timeout(
            min(self._policy.request_timeout_seconds, left),
            connect=min(self._policy.connect_timeout_seconds, left),
        )

    def _finish(
        self,
        request: ModelRequest,
        wire: WireFormat,
        body: dict[str, Any],
        answer: Answer,
        endpoint: Endpoint,
        attempt: Callable[[int | None, ProviderCallError | None], Attempt],
    ) -> Exchange:
        status, payload = answer.status, answer.payload
        url = endpoint.base_url + wire.path
        if status >= 400:
            error = self._http_error(answer, _where(url, endpoint.route), endpoint)
            error.attempts = [attempt(status, error)]
            raise error
        if not isinstance(payload, dict):
            error = ProviderCallError(
                f"HTTP {status} from {url}: response is not a JSON object",
                error_class="malformed_response",
                retryable=False,
            )
            error.attempts = [attempt(status, error)]
            raise error
        try:
            parsed = wire.parse(payload)
        except ProviderCallError as error:
            error.message = redact(error.message, endpoint.api_key)
            error.attempts = [attempt(status, error)]
            raise
        done = attempt(status, None)
        return build_exchange(request, wire, body, payload, parsed, done.latency_ms, done)
