"""Try each model of a fallback chain in turn until one answers.

``client`` is normally a ``RetryingClient``, so each model gets its retries before the
next is tried. A failure that forbids fallback (a refusal is an answer; a passed run
deadline ends the run) stops the chain at once. The attempts of every model tried are
kept: on success they lead the returned exchange's ``attempts``; on total failure the
raised ``ProviderCallError`` carries them all (exit 4, fail closed).

The result keeps apart the two things a caller tells the operator: the models the
chain skipped (``Skipped``, never tried) and, when a fallback answered and
``alert_on_fallback`` is on, the ``FallbackAlert`` naming the models that failed first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aiops.errors import ModelNotAllowedError
from aiops.governance.fallback import Candidate, FallbackChain, Skipped
from aiops.providers.base import Attempt, Exchange, ModelClient, ModelRequest, ProviderCallError

ALL_MODELS_FAILED = "all_models_failed"


@dataclass(frozen=True)
class FailedModel:
    """A model of the chain that was tried and gave no answer."""

    model_id: str
    error_class: str

    def __str__(self) -> str:
        return f"{self.model_id} ({self.error_class})"


@dataclass(frozen=True)
class FallbackAlert:
    """A fallback model answered after every model before it failed."""

    model_id: str
    failures: tuple[FailedModel, ...]

    @property
    def message(self) -> str:
        failed = ", ".join(str(failure) for failure in self.failures)
        return f"fallback: {self.model_id} answered after {failed} failed"


@dataclass(frozen=True)
class FallbackResult:
    exchange: Exchange  # attempts span every model tried, in order
    candidate: Candidate  # the model that answered, with its SoD check
    skipped: tuple[Skipped, ...] = ()  # models of the chain never tried, with reasons
    alert: FallbackAlert | None = None  # a fallback answered and alert_on_fallback is on

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
    failures: list[FailedModel] = []
    last = ""
    if not chain.candidates:
        raise ModelNotAllowedError(
            "no model may be called: " + "; ".join(s.notice for s in chain.skipped)
        )
    for candidate in chain.candidates:
        try:
            exchange = client.complete(make_request(candidate.model_id))
        except ProviderCallError as error:
            attempts.extend(error.attempts)
            failures.append(FailedModel(candidate.model_id, error.error_class))
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
        alert = None
        if candidate.is_fallback and alert_on_fallback:
            alert = FallbackAlert(candidate.model_id, tuple(failures))
        return FallbackResult(
            exchange=replace(exchange, attempts=[*attempts, *exchange.attempts]),
            candidate=candidate,
            skipped=tuple(chain.skipped),
            alert=alert,
        )
    raise ProviderCallError(
        f"all {len(chain.candidates)} model(s) failed: "
        + ", ".join(str(failure) for failure in failures)
        + f"; last error: {last}",
        error_class=ALL_MODELS_FAILED,
        retryable=False,
        fallback_ok=False,
        attempts=attempts,
    )
