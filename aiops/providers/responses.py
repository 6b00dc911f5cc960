"""OpenAI Responses API (``POST {base}/responses``): gpt-5.x, o3 and the pro models.

Request: ``instructions`` (system prompt), ``input`` (user prompt), ``max_output_tokens``,
structured output as ``text.format = {"type": "json_schema", "name", "schema",
"strict": true}``, ``store: false``. No sampling parameters: reasoning models reject
``temperature``. Response: a list of output items — reasoning items first (skipped for
the answer; their summaries are kept), then a message whose content parts are
``output_text`` or ``refusal``; ``status`` may be ``incomplete`` (with
``incomplete_details.reason``) or ``failed`` (with ``error``).
"""

from __future__ import annotations

from typing import Any

from aiops.providers.base import ModelRequest, ProviderCallError, Usage
from aiops.providers.longcall import call_fields
from aiops.providers.wire import (
    Parsed,
    WireFormat,
    as_int,
    obj,
    schema_instruction,
    served_model,
)
from aiops.schemas.registry import EndpointKind


def build_body(request: ModelRequest) -> dict[str, Any]:
    structured = request.model.structured_output
    instructions = request.system_prompt
    body: dict[str, Any] = {
        "model": request.model.requested_model,
        "input": request.user_prompt,
        "max_output_tokens": request.max_output_tokens,
        "store": False,
    }
    if request.output_schema is not None and structured == "json_schema":
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": request.schema_name,
                "schema": request.output_schema,
                "strict": True,
            }
        }
    elif request.output_schema is not None:
        instructions += schema_instruction(request)
        if structured == "json_object":
            body["text"] = {"format": {"type": "json_object"}}
    body["instructions"] = instructions
    if request.web is not None:  # only what the scope allows; never any other tool
        body["tools"] = [
            {"type": "web_search", "filters": {"allowed_domains": list(request.web.domains)}}
        ]
        body["include"] = ["web_search_call.action.sources"]
        body["max_tool_calls"] = request.web.max_calls
    # How the answer travels is part of the body sent, so of the hash and the evidence:
    # background mode sends store: true, which the pack must not hide.
    body.update(call_fields(EndpointKind.RESPONSES, request.model.effective_call_mode))
    return body


# ``error.code`` of a failed response that another attempt may cure; the others
# (``invalid_prompt``, the image errors) fail the same way again, at the same cost.
_TRANSIENT_FAILURES = frozenset({"server_error", "rate_limit_exceeded", "vector_store_timeout"})


def parse(response: dict[str, Any]) -> Parsed:
    status = response.get("status")
    if status == "failed":
        error = obj(response.get("error"))
        code = str(error.get("code") or "")
        message = " ".join(str(error.get("message") or "").split())[:200]
        raise ProviderCallError(
            f"the response failed ({code or 'failed'}){': ' + message if message else ''}",
            error_class="response_failed",
            retryable=not code or code in _TRANSIENT_FAILURES,
        )
    output = response.get("output")
    if not isinstance(output, list):
        raise ProviderCallError(
            "malformed Responses API answer: no output list",
            error_class="malformed_response",
            retryable=False,
        )
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    reasoning.append(part["text"])
            continue
        if item.get("type") != "message":
            continue  # tool calls and other items carry no answer text
        for part in item.get("content") or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "refusal":
                refusals.append(str(part.get("refusal") or ""))
    usage_raw = obj(response.get("usage"))
    details = obj(usage_raw.get("output_tokens_details"))
    usage = Usage(
        input_tokens=as_int(usage_raw.get("input_tokens")),
        output_tokens=as_int(usage_raw.get("output_tokens")),
        reasoning_tokens=as_int(details.get("reasoning_tokens")),
    )
    text = "".join(texts)
    refusal = "\n".join(refusals) if refusals else None
    incomplete: str | None = None
    if status == "incomplete":
        reason = obj(response.get("incomplete_details")).get("reason")
        incomplete = str(reason or "unknown")
        outcome = "incomplete"
    elif refusal is not None:
        outcome = "refused"
    elif not text:
        incomplete, outcome = "empty_output", "incomplete"
    else:
        outcome = "completed"
    return Parsed(
        outcome=outcome,  # type: ignore[arg-type]
        text=text,
        refusal=refusal,
        incomplete_reason=incomplete,
        reasoning_text="\n\n".join(reasoning) or None,
        usage=usage,
        served=served_model(response),
    )


RESPONSES = WireFormat(EndpointKind.RESPONSES, "/responses", build_body, parse)
