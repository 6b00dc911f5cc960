"""Try each model of a fallback chain in turn until one answers.

``client`` is normally a ``RetryingClient``, so each model gets its retries before the
next is tried. A failure that forbids fallback (a refusal is an answer; a passed run
deadline ends the run) stops the chain at once. The attempts of every model tried are
kept: on success they lead the returned exchange's ``attempts``; on total failure the
raised ``ProviderCallError`` carries them all (exit 4, fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from aiops.errors import ModelNotAllowedError
from aiops.governance.fallback import Candidate, FallbackChain
from aiops.providers.base import Attempt, Exchange, ModelClient, ModelRequest, ProviderCallError

ALL_MODELS_FAILED = "all_models_failed"


@dataclass(frozen=True)
class FallbackResult:
    exchange: Exchange  # attempts span every model tried, in order
    candidate: Candidate  # the model that answered, with its SoD check
    warnings: list[str] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return self.candidate.is_fallback


def complete_with_fallback(
    client: ModelClient,
    chain: FallbackChain,
    make_request: Callable[[str], ModelRequest],
    *,
    alert_on_fallback: bool,
) -> FallbackResult:
    """Call ``make_request(model_id)`` for each candidate until one answers."""
    attempts: list[Attempt] = []
    failures: list[str] = []
    last = ""
    warnings = [f"skipped {s.model_id}: {s.reason}" for s in chain.skipped]
    if not chain.candidates:
        raise ModelNotAllowedError("no model may be called: " + "; ".join(warnings))
    for candidate in chain.candidates:
        try:
            exchange = client.complete(make_request(candidate.model_id))
        except ProviderCallError as error:
            attempts.extend(error.attempts)
            failures.append(f"{candidate.model_id} ({error.error_class})")
            last = str(error)
            if not error.fallback_ok:
                raise ProviderCallError(
                    str(error),
                    error_class=error.error_class,
                    retryable=False,
                    fallback_ok=False,
                    http_status=error.http_status,
                    attempts=attempts,
                ) from None
            continue
        if candidate.is_fallback and alert_on_fallback:
            warnings.append(
                f"fallback: {candidate.model_id} answered after " + ", ".join(failures) + " failed"
            )
        return FallbackResult(
            exchange=replace(exchange, attempts=[*attempts, *exchange.attempts]),
            candidate=candidate,
            warnings=warnings,
        )
    raise ProviderCallError(
        f"all {len(chain.candidates)} model(s) failed: "
        + ", ".join(failures)
        + f"; last error: {last}",
        error_class=ALL_MODELS_FAILED,
        retryable=False,
        fallback_ok=False,
        attempts=attempts,
    )
