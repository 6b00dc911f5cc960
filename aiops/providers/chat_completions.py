"""Chat Completions (``POST {base}/chat/completions``): DeepSeek and any
OpenAI-compatible server (vLLM, Ollama, a gateway).

Request: system and user ``messages``; the output limit as ``max_completion_tokens`` on
OpenAI's own platform (which rejects ``max_tokens`` for reasoning models) and as
``max_tokens`` elsewhere (what DeepSeek, vLLM and Ollama read); ``response_format``
json_schema when the registry says the model supports it, else ``json_object`` with the
schema carried in the system prompt. No sampling parameters. Response:
``choices[0].message`` with ``content``, ``refusal`` and, from reasoning servers,
``reasoning_content`` (or ``reasoning``); ``finish_reason`` ``length``,
``content_filter`` or DeepSeek's ``insufficient_system_resource`` means the answer is
incomplete.

Real servers wrap the JSON in two known ways, and only these two are undone
(``unwrap.py``); a think block with no answer after it is an empty answer. ``text``
stays the content as received (its hash is ``output_hash``); the answer and the forms
undone travel beside it.
"""

from __future__ import annotations

from typing import Any

from aiops.providers.base import ModelRequest, ProviderCallError, Usage
from aiops.providers.longcall import call_fields
from aiops.providers.unwrap import unwrap
from aiops.providers.wire import (
    Parsed,
    WireFormat,
    as_int,
    obj,
    schema_instruction,
    served_model,
)
from aiops.schemas.registry import EndpointKind

_INCOMPLETE = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
    "insufficient_system_resource": "insufficient_system_resource",  # DeepSeek: cut short
}


def _limit_parameter(request: ModelRequest) -> str:
    # Decided from the registry's configured URL (not the environment), so the body and
    # its prompt hash do not depend on where a gateway happens to point.
    host = request.provider.base_url.split("://", 1)[-1].split("/", 1)[0]
    return "max_completion_tokens" if host == "api.openai.com" else "max_tokens"


def build_body(request: ModelRequest) -> dict[str, Any]:
    structured = request.model.structured_output
    system = request.system_prompt
    body: dict[str, Any] = {"model": request.model.requested_model}
    if request.output_schema is not None and structured == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.schema_name,
                "schema": request.output_schema,
                "strict": True,
            },
        }
    elif request.output_schema is not None:
        system += schema_instruction(request)
        if structured == "json_object":
            body["response_format"] = {"type": "json_object"}
    body["messages"] = [
        {"role": "system", "content": system},
        {"role": "user", "content": request.user_prompt},
    ]
    body[_limit_parameter(request)] = request.max_output_tokens
    body.update(call_fields(EndpointKind.CHAT_COMPLETIONS, request.model.effective_call_mode))
    return body


def parse(response: dict[str, Any]) -> Parsed:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderCallError(
            "malformed Chat Completions answer: no choices",
            error_class="malformed_response",
            retryable=False,
        )
    choice = choices[0]
    message = obj(choice.get("message"))
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    refusal = message.get("refusal") if isinstance(message.get("refusal"), str) else None
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
    answer, think, applied = unwrap(text)
    if think is not None:
        reasoning = think if reasoning is None else f"{reasoning}\n\n{think}"
    usage_raw = obj(response.get("usage"))
    details = obj(usage_raw.get("completion_tokens_details"))
    usage = Usage(
        input_tokens=as_int(usage_raw.get("prompt_tokens")),
        output_tokens=as_int(usage_raw.get("completion_tokens")),
        reasoning_tokens=as_int(details.get("reasoning_tokens")),
    )
    finish = choice.get("finish_reason")
    incomplete: str | None = _INCOMPLETE.get(str(finish)) if finish else None
    if incomplete is not None:
        outcome = "incomplete"
    elif refusal:
        outcome = "refused"
    elif not (text if answer is None else answer.strip()):
        incomplete, outcome = "empty_output", "incomplete"  # a think block and no answer
    else:
        outcome = "completed"
    return Parsed(
        outcome=outcome,  # type: ignore[arg-type]
        text=text,
        refusal=refusal or None,
        incomplete_reason=incomplete,
        reasoning_text=reasoning,
        usage=usage,
        answer_text=answer,
        normalisations=applied,
        served=served_model(response),
    )


CHAT_COMPLETIONS = WireFormat(EndpointKind.CHAT_COMPLETIONS, "/chat/completions", build_body, parse)
