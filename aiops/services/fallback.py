"""The one place that decides how a run's model calls are made and what happens when
one fails.

Client stack of a networked run (record, live), outermost first::

    RetryingClient(policy, deadline, before_attempt=guard.before_attempt,
                   after_attempt=guard.after_attempt)
      -> [RecordingClient]  (record: every attempt goes into the transcript)
        -> OpenAICompatibleClient(deadline)  (each request's timeout capped by it)

One ``Deadline`` (``run_deadline_seconds``) is shared by the retry loop, the rate-limit
wait and the HTTP timeouts. The ``CallGuard`` hooks run around every attempt: before
it, a rate-limit slot and a budget reservation (refused: ``BudgetExceededError``, exit
2, nothing sent); after it, success or not, the reservation settled at the actual cost
from usage and one audit line.

The proposer walks the fallback chain (``complete_with_fallback``): each model gets
its retries, then the next is tried when the failure allows another model. The
critic gets retries but no fallback: separation of duties and the layer's review were
agreed for that critic, and a substitute reviewer is not the reviewer the registry
names. A failed critic fails the run (FAILED, exit 4).

Replay uses the same retry loop over the transcript (so a recorded failure replays as
a retry or a fallback, exactly as it happened) but with no waits, no rate limit, no
budget and no audit line: nothing is sent and nothing is spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiops.governance.fallback import FallbackChain, LayerFailurePolicy
from aiops.providers.base import Attempt, Exchange, ModelClient, ModelRequest
from aiops.providers.fallback import FallbackResult, complete_with_fallback
from aiops.providers.retry import Deadline, RetryingClient
from aiops.schemas.registry import FallbackPolicy

if TYPE_CHECKING:
    from aiops.governance.call_guard import CallGuard


@dataclass
class CallStack:
    """What a run calls, and the controls around it (``guard`` is None in replay)."""

    client: ModelClient
    deadline: Deadline
    failure: LayerFailurePolicy
    guard: CallGuard | None = None
    # Every attempt by role, in order — also those before a budget refusal mid-run.
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)

    def attempts_of(self, role: str) -> list[Attempt]:
        return list(self.attempts.get(role, []))


def network_stack(
    inner: ModelClient,
    policy: FallbackPolicy,
    failure: LayerFailurePolicy,
    deadline: Deadline,
    guard: CallGuard,
) -> CallStack:
    stack = CallStack(client=inner, deadline=deadline, failure=failure, guard=guard, attempts={})
    stack.client = RetryingClient(
        inner,
        policy,
        deadline=deadline,
        before_attempt=guard.before_attempt,
        after_attempt=_recorded(stack, guard.after_attempt),
    )
    return stack


def replay_stack(
    inner: ModelClient, policy: FallbackPolicy, failure: LayerFailurePolicy
) -> CallStack:
    """Retries over the transcript without waiting: the recorded run replays as it ran."""
    instant = policy.model_copy(
        update={"backoff_initial_seconds": 0.0, "backoff_max_seconds": 0.0, "jitter_seconds": 0.0}
    )
    deadline = Deadline(policy.run_deadline_seconds)
    stack = CallStack(client=inner, deadline=deadline, failure=failure, attempts={})
    stack.client = RetryingClient(
        inner,
        instant,
        deadline=deadline,
        sleep=lambda _seconds: None,
        after_attempt=_recorded(stack, None),
    )
    return stack


def _recorded(
    stack: CallStack,
    then: Callable[[ModelRequest, Attempt, Exchange | None], None] | None,
) -> Callable[[ModelRequest, Attempt, Exchange | None], None]:
    def after_attempt(request: ModelRequest, attempt: Attempt, exchange: Exchange | None) -> None:
        stack.attempts.setdefault(request.role, []).append(attempt)
        if then is not None:
            then(request, attempt, exchange)

    return after_attempt


def call_proposer(
    stack: CallStack, chain: FallbackChain, make_request: Callable[[str], ModelRequest]
) -> FallbackResult:
    """The first answer along the chain; ``ProviderCallError`` with every attempt when
    none answered (or when a failure forbids another model)."""
    return complete_with_fallback(
        stack.client, chain, make_request, alert_on_fallback=stack.failure.alert_on_fallback
    )


def call_critic(stack: CallStack, request: ModelRequest) -> Exchange:
    """The critic with its retries; no fallback (see the module docstring)."""
    return stack.client.complete(request)
