"""The one seam between the runner and any model: ``ModelClient.complete``.

Real (Responses, Chat Completions), replay and recording clients implement the same
protocol; the runner never knows which it has. An ``Exchange`` carries the normalised
result **and** what actually crossed the wire (request body, raw response JSON),
latency and every attempt, so record mode and evidence packs capture the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiops.errors import ProviderError
from aiops.schemas.registry import Model, Provider

Role = Literal["proposer", "critic"]
# What the model's answer amounts to, whatever the wire format said.
Outcome = Literal["completed", "refused", "incomplete", "failed"]


@dataclass(frozen=True)
class WebSearch:
    """The Responses web_search tool as the capability scope allows it: the domain
    filter (API form, ``governance.web_scope``), the cap on searches per call
    (``max_tool_calls``) and the scope's hourly limit, kept per scope."""

    domains: tuple[str, ...]
    scope_domains: tuple[str, ...]
    max_calls: int
    scope_id: str
    rate_limit_per_hour: int


@dataclass(frozen=True)
class ModelRequest:
    """Everything needed to build one provider request; no secrets."""

    role: Role
    model_id: str  # registry id, e.g. "gpt-5.2-pro"
    model: Model  # registry entry: endpoint kind, provider model name, limits
    provider_id: str
    provider: Provider
    system_prompt: str
    user_prompt: str
    output_schema: dict[str, Any] | None  # JSON Schema the answer must follow
    schema_name: str
    max_output_tokens: int
    web: WebSearch | None = None  # the web_search tool, when the scope allows web


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Attempt:
    """One try at one model: recorded in the pack and the audit log, success or not."""

    model_id: str
    endpoint: str  # URL without credentials, or "replay:<fixture>"
    http_status: int | None
    error_class: str | None  # e.g. "rate_limit", "insufficient_quota", "timeout"
    error_message: str | None  # never a key; provider text is trimmed
    latency_ms: int
    retry_delay_ms: int = 0  # how long we waited before the next attempt


@dataclass(frozen=True)
class ServedModel:
    """What the provider says answered: the response's ``model`` (often a dated
    snapshot of the alias that was asked for), Chat Completions' ``system_fingerprint``
    and the ``service_tier`` — each ``None`` when the response does not say."""

    model: str | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


@dataclass(frozen=True)
class Exchange:
    """A finished call: the normalised answer plus the raw wire record."""

    model_id: str  # the model that actually answered (after any fallback)
    endpoint_kind: str
    # The JSON body sent, the fields of its call mode included (``longcall.call_fields``);
    # its hash is prompt_hash.
    request_body: dict[str, Any]
    response_body: dict[str, Any]  # the provider's raw JSON response
    outcome: Outcome
    text: str  # the output text as received ("" when refused/failed)
    refusal: str | None
    incomplete_reason: str | None
    reasoning_text: str | None  # reasoning_content / reasoning summary, when returned
    usage: Usage
    latency_ms: int
    attempts: list[Attempt] = field(default_factory=list)
    # The JSON answer taken out of ``text`` by ``normalisations`` (``unwrap.py``);
    # ``None`` when ``text`` is the answer as it stands.
    answer_text: str | None = None
    normalisations: tuple[str, ...] = ()
    served: ServedModel = field(default_factory=ServedModel)

    @property
    def answer(self) -> str:
        """The text the scope and the critic's verdict are read from (``output_hash``
        stays over ``text``, as received)."""
        return self.text if self.answer_text is None else self.answer_text


@dataclass(frozen=True)
class CallProgress:
    """What a call in flight reports, for the operator's terminal only: never written to
    a pack, a log, a fixture or stdout, so nothing it says can change the evidence.

    ``started`` once per attempt, ``waiting`` as the provider says more (``status``:
    ``queued``, ``in_progress``, ``streaming``; ``tokens``: streamed pieces so far, a
    count of deltas, not billed tokens), ``finished`` once with the attempt's record
    (``None`` when the call was interrupted before it had one)."""

    role: Role
    model_id: str
    attempt_no: int
    phase: Literal["started", "waiting", "finished"]
    status: str | None = None
    tokens: int = 0
    result: Attempt | None = None


# The progress seam: called in the calling thread, must not raise.
ProgressSink = Callable[[CallProgress], None]


class ModelClient(Protocol):
    """One call. Raises ``ProviderCallError`` when no answer could be had."""

    def complete(self, request: ModelRequest) -> Exchange: ...


class ProviderCallError(ProviderError):
    """A failed call, classified so retry and fallback policy can decide.

    ``retryable`` — worth another attempt on the same model (connection error,
    timeout, 408, 409, 429 rate limit, 5xx). ``fallback_ok`` — another model may
    be tried (false for a refusal: a refusal is an answer, the run fails closed).
    """

    def __init__(
        self,
        message: str,
        *,
        error_class: str,
        retryable: bool,
        fallback_ok: bool = True,
        http_status: int | None = None,
        retry_after_s: float | None = None,
        attempts: list[Attempt] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.retryable = retryable
        self.fallback_ok = fallback_ok
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.attempts = list(attempts or [])
