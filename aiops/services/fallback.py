"""The one place that decides what happens when a model call fails.

Today: try each candidate once, in order (the primary, then the layer's fallbacks that
pre-flight kept — never the critic, never a model that would break SoD), moving on
only when the failure allows another model (``fallback_ok``). The retry, backoff and
budget policy replaces this function; nothing else in the runner knows about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aiops.providers.base import Attempt, Exchange, ModelClient, ModelRequest, ProviderCallError


def call_with_fallback(client: ModelClient, candidates: Sequence[ModelRequest]) -> Exchange:
    """The first answer from ``candidates``; ``ProviderCallError`` with every attempt
    when none answered."""
    attempts: list[Attempt] = []
    last: ProviderCallError | None = None
    for request in candidates:
        try:
            exchange = client.complete(request)
        except ProviderCallError as error:
            attempts.extend(error.attempts)
            last = error
            if not error.fallback_ok:
                break
            continue
        return replace(exchange, attempts=attempts + exchange.attempts)
    assert last is not None, "call_with_fallback needs at least one candidate"
    tried = ", ".join(dict.fromkeys(a.model_id for a in attempts)) or candidates[0].model_id
    raise ProviderCallError(
        f"{candidates[0].role} call failed ({tried}): {last.message}",
        error_class=last.error_class,
        retryable=last.retryable,
        fallback_ok=last.fallback_ok,
        http_status=last.http_status,
        retry_after_s=last.retry_after_s,
        attempts=attempts,
    )
