"""Long calls: streamed answers and background responses, read to one final response.

A pro or deep-research model takes minutes per request; one silent HTTP request that
long is cut by proxies and load balancers that drop idle connections. The registry's
``call_mode`` picks what the real APIs offer instead:

- ``stream``: ``stream: true``. Responses sends server-sent events and ends with
  ``response.completed`` / ``response.incomplete`` / ``response.failed``, whose
  ``response`` is the whole response object; Chat Completions sends ``data: {chunk}``
  lines, the usage in a last chunk (``stream_options.include_usage``), then
  ``data: [DONE]``. A stream that ends before its terminal event is cut: the attempt
  fails (retryable) and no part of the answer is used.
- ``background`` (Responses only): ``background: true`` with ``store: true`` (the API
  requires it), answered at once with ``queued`` / ``in_progress``; then
  ``GET /responses/{id}`` every ``poll_interval_seconds`` until a terminal status. Any
  way out before that (Ctrl-C, SIGTERM, the deadline, polls failing) sends
  ``POST /responses/{id}/cancel`` so the run does not pay for an answer it throws away.

Either way the result is the final response object, exactly what a blocking call
returns: the wire format parses it, record mode stores it and replay returns it. The
fields a mode adds (``stream``, ``stream_options``, ``background``, ``store: true``) are
part of the request body the wire format builds: the body recorded, hashed into
``prompt_hash`` and kept in the pack is exactly the body sent, so a background call's
``store: true`` is in the evidence. A fixture is therefore tied to the call mode it was
recorded with, like any other field of the request.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from aiops.providers.base import ProviderCallError
from aiops.schemas.registry import EndpointKind

CallMode = Literal["blocking", "stream", "background"]
# Statuses of a background response that is still working.
PENDING = frozenset({"queued", "in_progress"})
# A response id as providers and gateways make them (OpenAI ``resp_…``, LiteLLM's
# base64); never a path separator, a query, a fragment or an escape.
_RESPONSE_ID = re.compile(r"[A-Za-z0-9_=:-]{1,512}")
# Consecutive failed polls tolerated before the call is given up (and cancelled).
MAX_POLL_FAILURES = 5
# Stream events that carry a piece of the answer or of its reasoning.
_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    }
)
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_TRANSIENT = frozenset({"server_error", "rate_limit_exceeded", ""})

# Told the provider's status and the count of streamed pieces so far.
OnProgress = Callable[[str, int], None]


def call_fields(kind: EndpointKind, mode: CallMode) -> dict[str, Any]:
    """What ``mode`` adds to the request body sent."""
    if mode == "background":
        return {"background": True, "store": True}
    if mode == "stream" and kind is EndpointKind.RESPONSES:
        return {"stream": True}
    if mode == "stream":
        return {"stream": True, "stream_options": {"include_usage": True}}
    return {}


def cut(message: str) -> ProviderCallError:
    return ProviderCallError(
        f"stream cut before the answer was complete ({message}); nothing of it is used",
        error_class="stream_cut",
        retryable=True,
    )


def sse_events(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines);
    comments (``: keep-alive``) and ``event:`` / ``id:`` / ``retry:`` fields skipped."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _event(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise cut("an event is not JSON") from None
    if not isinstance(value, dict):
        raise cut("an event is not a JSON object")
    return value


def read_responses_stream(lines: Iterable[str], on_progress: OnProgress) -> dict[str, Any]:
    """The ``response`` of the terminal event of a Responses stream."""
    pieces = 0
    for data in sse_events(lines):
        event = _event(data)
        kind = event.get("type")
        if kind in _TERMINAL:
            response = event.get("response")
            if not isinstance(response, dict):
                raise cut(f"{kind} carries no response object")
            return response
        if kind == "error":
            code = str(event.get("code") or "")
            message = " ".join(str(event.get("message") or "").split())[:200]
            said = f": {message}" if message else ""
            raise ProviderCallError(
                f"the stream reported an error ({code or 'error'}){said}",
                error_class="stream_error",
                retryable=code in _TRANSIENT,
            )
        if kind in _DELTAS:
            pieces += 1
        on_progress("streaming" if pieces else "in_progress", pieces)
    raise cut("no response.completed event")


def read_chat_stream(lines: Iterable[str], on_progress: OnProgress) -> dict[str, Any]:
    """Chat Completions chunks put back together as the ``chat.completion`` object a
    blocking call returns; only a stream that ends with ``[DONE]`` after a
    ``finish_reason`` counts."""
    head: dict[str, Any] = {}
    parts: dict[str, list[str]] = {"content": [], "reasoning_content": [], "refusal": []}
    finish: Any = None
    usage: Any = None
    pieces = 0
    for data in sse_events(lines):
        if data.strip() == "[DONE]":
            if finish is None:
                raise cut("[DONE] without a finish_reason")
            return _completion(head, parts, finish, usage)
        chunk = _event(data)
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            message = " ".join(str(error.get("message") or "").split())[:200]
            raise ProviderCallError(
                f"the stream reported an error{': ' + message if message else ''}",
                error_class="stream_error",
                retryable=True,
            )
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None:
                head.setdefault(key, chunk[key])
        if chunk.get("usage") is not None:
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            for key in parts:
                piece = delta.get(key) if key != "reasoning_content" else _reasoning(delta)
                if isinstance(piece, str) and piece:
                    parts[key].append(piece)
                    pieces += 1
            if choice.get("finish_reason") is not None:
                finish = choice["finish_reason"]
        on_progress("streaming" if pieces else "in_progress", pieces)
    raise cut("no [DONE]")


def _reasoning(delta: dict[str, Any]) -> Any:
    value = delta.get("reasoning_content")
    return value if value is not None else delta.get("reasoning")


def _completion(
    head: dict[str, Any], parts: dict[str, list[str]], finish: Any, usage: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(parts["content"]) if parts["content"] else None,
        "refusal": "".join(parts["refusal"]) if parts["refusal"] else None,
    }
    if parts["reasoning_content"]:
        message["reasoning_content"] = "".join(parts["reasoning_content"])
    completion: dict[str, Any] = {
        "id": head.get("id", ""),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
    }
    for key in ("system_fingerprint", "service_tier"):
        if key in head:
            completion[key] = head[key]
    if usage is not None:
        completion["usage"] = usage
    return completion


class StopWatch:
    """The call's own time limit (``request_timeout_seconds``, capped by the run
    deadline), checked between events and polls."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._ends = monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._ends - self._monotonic())


def timed(lines: Iterable[str], watch: StopWatch, where: str) -> Iterator[str]:
    """``lines`` until the call's time is up (a stream that keeps talking but never
    finishes is stopped too)."""
    for line in lines:
        if watch.left() <= 0:
            raise ProviderCallError(
                f"timed out calling {where} (the stream did not finish in time)",
                error_class="timeout",
                retryable=True,
            )
        yield line


def poll_background(
    first: dict[str, Any],
    fetch: Callable[[str], dict[str, Any]],
    cancel: Callable[[str], None],
    *,
    interval: float,
    watch: StopWatch,
    on_progress: OnProgress,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll a background response until a terminal status and return it.

    ``fetch(id)`` is ``GET /responses/{id}`` (raising ``ProviderCallError``); a
    retryable failure is tolerated ``MAX_POLL_FAILURES`` times in a row. Leaving by any
    other way than a terminal status — the call's time up, polls failing, Ctrl-C,
    SIGTERM — cancels the response first (``cancel(id)``, best effort)."""
    response_id = first.get("id")
    status = first.get("status")
    if status not in PENDING:
        return first  # answered at once (or failed at once): nothing to wait for
    if not isinstance(response_id, str) or not _RESPONSE_ID.fullmatch(response_id):
        raise ProviderCallError(  # it becomes part of a URL path: nothing but an id
            "background response without a usable id: it cannot be polled",
            error_class="malformed_response",
            retryable=False,
        )
    failures = 0
    try:
        current = first
        while current.get("status") in PENDING:
            on_progress(str(current.get("status")), 0)
            if watch.left() <= interval:
                raise ProviderCallError(
                    f"background response {response_id} did not finish in time; cancelled",
                    error_class="timeout",
                    retryable=True,
                )
            sleep(interval)
            try:
                current = fetch(response_id)
            except ProviderCallError as error:
                failures += 1
                if not error.retryable or failures >= MAX_POLL_FAILURES:
                    raise
                continue
            failures = 0
    except BaseException:
        cancel(response_id)
        raise
    if current.get("status") == "cancelled":
        raise ProviderCallError(
            f"background response {response_id} was cancelled by someone else",
            error_class="response_cancelled",
            retryable=False,
        )
    return current
