"""Retries on one model, per the registry's ``fallback_policy``.

``RetryingClient`` wraps any ``ModelClient`` and is one itself. It retries a
``ProviderCallError`` marked ``retryable`` (connection error, timeout, 408, 409, 429
rate limit, 5xx) up to ``max_retries_per_model`` extra attempts with exponential
backoff and jitter, honouring the server's ``retry-after`` as a minimum wait. It never
retries 400/401/403/404, ``insufficient_quota`` or a refusal, whatever the inner client
said, and never waits past the run deadline. Every attempt is recorded: a success
carries the failed attempts before it, a failure carries them all.

The loop is written out rather than delegated to a retry library: it is short, and
the things it must do on every attempt (record the attempt with its delay, honour a
per-error retry-after, stop at a deadline shared by several clients, call hooks for
rate limits, budgets and the audit log) would each be a callback in a library.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from aiops.providers.base import Attempt, Exchange, ModelClient, ModelRequest, ProviderCallError
from aiops.redact import scrub_secrets, secrets_from_env
from aiops.schemas.registry import FallbackPolicy

# A server asking for more than this is not taken literally (and the backoff cap then
# applies anyway); it bounds a bogus or hostile header.
MAX_RETRY_AFTER_SECONDS = 600.0
# Never retried, whatever ``retryable`` says (DESIGN.md "Real provider APIs").
NEVER_RETRY_STATUSES = frozenset({400, 401, 403, 404})
NEVER_RETRY_CLASSES = frozenset({"insufficient_quota", "refusal"})
DEADLINE_EXCEEDED = "deadline_exceeded"

Sleep = Callable[[float], None]
Clock = Callable[[], float]
# Called before every attempt (rate limit, budget); may raise to stop the call.
BeforeAttempt = Callable[[ModelRequest], None]
# Called after every attempt with the exchange on success (audit log, spend ledger).
AfterAttempt = Callable[[ModelRequest, Attempt, Exchange | None], None]


# A gateway passes the provider's headers on under this prefix (LiteLLM:
# ``llm_provider-retry-after-ms``); they count like the plain names.
GATEWAY_HEADER_PREFIX = "llm_provider-"


def parse_retry_after(
    headers: Mapping[str, str], now: datetime, *, cap_s: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Seconds the server asks us to wait, or ``None`` when it does not say (clearly).

    ``retry-after-ms`` (milliseconds, OpenAI) wins over ``retry-after`` (RFC 9110:
    delta-seconds or an HTTP-date, compared with ``now`` — the wall clock, not the run
    clock). Header names are matched case-insensitively. The same pair behind a gateway
    (``llm_provider-retry-after-ms`` / ``llm_provider-retry-after``: the upstream's) is
    read the same way, and the longer of the two waits is taken: both asked for it.
    Negative, non-finite or unparseable values are ignored; a date in the past means 0;
    the result is capped.
    """
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    waits = [
        wait
        for prefix in ("", GATEWAY_HEADER_PREFIX)
        if (wait := _asked(lowered, prefix, now)) is not None
    ]
    return min(max(waits), cap_s) if waits else None


def _asked(lowered: Mapping[str, str], prefix: str, now: datetime) -> float | None:
    seconds: float | None = None
    if prefix + "retry-after-ms" in lowered:
        millis = _finite(lowered[prefix + "retry-after-ms"])
        seconds = None if millis is None else millis / 1000.0
    if seconds is None and prefix + "retry-after" in lowered:
        raw = lowered[prefix + "retry-after"]
        seconds = _finite(raw)
        if seconds is None:
            seconds = _http_date_delta(raw, now)
    return None if seconds is None or seconds < 0 else seconds


def _finite(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _http_date_delta(raw: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(
    attempt_no: int, retry_after_s: float | None, policy: FallbackPolicy, rng: random.Random
) -> float:
    """Seconds to wait after failed attempt ``attempt_no`` (1-based).

    ``backoff_initial_seconds * 2**(attempt_no-1)`` capped at ``backoff_max_seconds``,
    plus uniform jitter in ``[0, jitter_seconds]``. A server's retry-after is a minimum,
    itself capped at ``backoff_max_seconds``.
    """
    cap = policy.backoff_max_seconds
    doublings = min(max(attempt_no - 1, 0), 32)  # bounded: 2.0**n must not overflow
    exponential = min(policy.backoff_initial_seconds * 2.0**doublings, cap)
    delay = exponential + rng.uniform(0.0, policy.jitter_seconds)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap))
    return delay


@dataclass
class Deadline:
    """The overall run deadline, shared by every client of one run."""

    seconds: float
    monotonic: Clock = time.monotonic

    def __post_init__(self) -> None:
        self._ends = self.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self._ends - self.monotonic())


def is_retryable(error: ProviderCallError) -> bool:
    if error.http_status in NEVER_RETRY_STATUSES or error.error_class in NEVER_RETRY_CLASSES:
        return False
    return error.retryable


class RetryingClient:
    """A ``ModelClient`` that retries its inner client per the fallback policy."""

    def __init__(
        self,
        inner: ModelClient,
        policy: FallbackPolicy,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Clock = time.monotonic,
        deadline: Deadline | None = None,
        rng: random.Random | None = None,
        before_attempt: BeforeAttempt | None = None,
        after_attempt: AfterAttempt | None = None,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep
        self._monotonic = monotonic
        self.deadline = deadline or Deadline(policy.run_deadline_seconds, monotonic)
        self._rng = rng or random.Random()
        self._before = before_attempt
        self._after = after_attempt

    def complete(self, request: ModelRequest) -> Exchange:
        done: list[Attempt] = []
        max_attempts = 1 + self._policy.max_retries_per_model
        for attempt_no in range(1, max_attempts + 1):
            if self.deadline.remaining() <= 0:
                raise self._deadline_error(request, done)
            if self._before is not None:
                self._before(request)
            started = self._monotonic()
            try:
                exchange = self._inner.complete(request)
            except ProviderCallError as error:
                tried = _failed_attempts(request, error, _ms(self._monotonic() - started))
                wants_retry = is_retryable(error) and attempt_no < max_attempts
                delay = self._delay(attempt_no, error) if wants_retry else 0.0
                out_of_time = wants_retry and delay >= self.deadline.remaining()
                tried[-1] = replace(tried[-1], retry_delay_ms=0 if out_of_time else _ms(delay))
                self._record(request, tried, None)
                done.extend(tried)
                if out_of_time:
                    raise self._deadline_error(request, done) from None
                if not wants_retry:
                    raise _final_error(request, error, done, attempt_no) from None
                self._sleep(delay)
                continue
            succeeded = _scrubbed(request, exchange.attempts) or [
                Attempt(
                    model_id=request.model_id,
                    endpoint=request.model.endpoint.value,
                    http_status=None,
                    error_class=None,
                    error_message=None,
                    latency_ms=exchange.latency_ms,
                )
            ]
            self._record(request, succeeded, exchange)
            return replace(exchange, attempts=[*done, *succeeded])
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _delay(self, attempt_no: int, error: ProviderCallError) -> float:
        return backoff_delay(attempt_no, error.retry_after_s, self._policy, self._rng)

    def _record(
        self, request: ModelRequest, attempts: list[Attempt], exchange: Exchange | None
    ) -> None:
        """Hand each attempt to the hook; only the last of a success has the exchange."""
        if self._after is None:
            return
        for index, attempt in enumerate(attempts):
            self._after(request, attempt, exchange if index == len(attempts) - 1 else None)

    def _deadline_error(self, request: ModelRequest, done: list[Attempt]) -> ProviderCallError:
        return ProviderCallError(
            f"{request.model_id}: run deadline of {self.deadline.seconds:g} s "
            f"reached after {len(done)} attempt(s)",
            error_class=DEADLINE_EXCEEDED,
            retryable=False,
            fallback_ok=False,  # the deadline is for the whole run, fallbacks included
            http_status=done[-1].http_status if done else None,
            attempts=done,
        )


def _failed_attempts(
    request: ModelRequest, error: ProviderCallError, latency_ms: int
) -> list[Attempt]:
    """The inner client's own record of what it tried when it gave one, else ours."""
    return _scrubbed(request, error.attempts) or [
        Attempt(
            model_id=request.model_id,
            endpoint=request.model.endpoint.value,
            http_status=error.http_status,
            error_class=error.error_class,
            error_message=_scrub(request, str(error)),
            latency_ms=latency_ms,
        )
    ]


def _scrubbed(request: ModelRequest, attempts: list[Attempt]) -> list[Attempt]:
    """Attempts go into packs and logs: no credential may survive in their messages."""
    return [
        replace(a, error_message=_scrub(request, a.error_message)) if a.error_message else a
        for a in attempts
    ]


def _scrub(request: ModelRequest, text: str) -> str:
    return scrub_secrets(text, secrets_from_env([request.provider.api_key_env]))


def _final_error(
    request: ModelRequest, error: ProviderCallError, attempts: list[Attempt], tries: int
) -> ProviderCallError:
    return ProviderCallError(
        f"{request.model_id} failed after {tries} attempt(s): {_scrub(request, str(error))}",
        error_class=error.error_class,
        retryable=error.retryable,
        fallback_ok=error.fallback_ok,
        http_status=error.http_status,
        retry_after_s=error.retry_after_s,
        attempts=attempts,
    )


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
