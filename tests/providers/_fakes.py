"""Plain fakes for resilience tests: a scripted model client and request builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiops.configuration import load_config
from aiops.providers.base import Exchange, ModelRequest, ProviderCallError, Usage
from aiops.schemas.registry import Registry

Step = Exchange | ProviderCallError


def registry() -> Registry:
    return load_config().registry


def request_for(model_id: str, *, user_prompt: str = "Outlook please.") -> ModelRequest:
    reg = registry()
    model = reg.models[model_id]
    return ModelRequest(
        role="proposer",
        model_id=model_id,
        model=model,
        provider_id=model.provider,
        provider=reg.providers[model.provider],
        system_prompt="You write market outlooks.",
        user_prompt=user_prompt,
        output_schema={"type": "object"},
        schema_name="outlook",
        max_output_tokens=model.max_output_tokens,
    )


def exchange_for(model_id: str, *, input_tokens: int = 100, output_tokens: int = 50) -> Exchange:
    return Exchange(
        model_id=model_id,
        endpoint_kind="responses",
        request_body={"model": model_id},
        response_body={"status": "completed"},
        outcome="completed",
        text='{"outputs": []}',
        refusal=None,
        incomplete_reason=None,
        reasoning_text=None,
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        latency_ms=7,
    )


def failure(
    error_class: str,
    *,
    retryable: bool = True,
    http_status: int | None = None,
    retry_after_s: float | None = None,
    fallback_ok: bool = True,
) -> ProviderCallError:
    return ProviderCallError(
        f"scripted {error_class}",
        error_class=error_class,
        retryable=retryable,
        fallback_ok=fallback_ok,
        http_status=http_status,
        retry_after_s=retry_after_s,
    )


@dataclass
class ScriptedClient:
    """Answers each call with the next scripted step, per model; counts calls."""

    script: dict[str, list[Step]]
    calls: list[str] = field(default_factory=list)
    on_call: Callable[[str], None] | None = None

    def complete(self, request: ModelRequest) -> Exchange:
        self.calls.append(request.model_id)
        if self.on_call is not None:
            self.on_call(request.model_id)
        steps = self.script[request.model_id]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if isinstance(step, ProviderCallError):
            raise step
        return step


@dataclass
class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
