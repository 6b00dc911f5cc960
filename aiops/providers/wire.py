"""A wire format: how to build the request body for an endpoint kind and how to read
its response. Pure functions over JSON — no HTTP — so the real clients and the replay
client build byte-identical bodies (and therefore identical prompt hashes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiops.providers.base import Attempt, Exchange, ModelRequest, Outcome, ServedModel, Usage
from aiops.schemas.registry import EndpointKind


@dataclass(frozen=True)
class Parsed:
    """A provider response reduced to what the runner needs."""

    outcome: Outcome
    text: str
    refusal: str | None
    incomplete_reason: str | None
    reasoning_text: str | None
    usage: Usage
    answer_text: str | None = None  # the JSON answer, when ``text`` had to be unwrapped
    normalisations: tuple[str, ...] = ()
    served: ServedModel = ServedModel()


@dataclass(frozen=True)
class WireFormat:
    kind: EndpointKind
    path: str  # appended to the provider's base URL
    build_body: Callable[[ModelRequest], dict[str, Any]]
    parse: Callable[[dict[str, Any]], Parsed]  # raises ProviderCallError when unusable


def wire_for(kind: EndpointKind) -> WireFormat:
    if kind is EndpointKind.RESPONSES:
        from aiops.providers.responses import RESPONSES

        return RESPONSES
    from aiops.providers.chat_completions import CHAT_COMPLETIONS

    return CHAT_COMPLETIONS


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (tolerant reading)."""
    return value if isinstance(value, dict) else {}


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def served_model(response: dict[str, Any]) -> ServedModel:
    """The response's own account of what served it (both wire formats name these
    fields alike); a value that is not a non-empty string is not taken."""

    def text(key: str) -> str | None:
        value = response.get(key)
        return value if isinstance(value, str) and value else None

    return ServedModel(text("model"), text("system_fingerprint"), text("service_tier"))


def schema_instruction(request: ModelRequest) -> str:
    """For endpoints without strict json_schema: the schema travels in the prompt."""
    import json

    if request.output_schema is None:
        return ""
    schema = json.dumps(request.output_schema, sort_keys=True, separators=(",", ":"))
    return f"\n\nAnswer with one JSON object that follows this JSON Schema:\n{schema}"


def build_exchange(
    request: ModelRequest,
    wire: WireFormat,
    body: dict[str, Any],
    response: dict[str, Any],
    parsed: Parsed,
    latency_ms: int,
    attempt: Attempt,
) -> Exchange:
    return Exchange(
        model_id=request.model_id,
        endpoint_kind=wire.kind.value,
        request_body=body,
        response_body=response,
        outcome=parsed.outcome,
        text=parsed.text,
        refusal=parsed.refusal,
        incomplete_reason=parsed.incomplete_reason,
        reasoning_text=parsed.reasoning_text,
        usage=parsed.usage,
        latency_ms=latency_ms,
        attempts=[attempt],
        answer_text=parsed.answer_text,
        normalisations=parsed.normalisations,
        served=parsed.served,
    )
