"""A loopback HTTP server on a real socket speaking the Responses and Chat Completions
wire formats, scripted per test.

Every request body is validated against the official ``openai`` package's request
types (and must carry no key anywhere but the Authorization header); every scripted
answer is built through its response types, so our shapes match the real API.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk, CompletionCreateParams
from openai.types.responses import Response, ResponseCreateParams, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.httpserver import ClosedOnExit, QuietHandler, serve

RESPONSES_PATH = "/v1/responses"
CHAT_PATH = "/v1/chat/completions"
_REQUEST_TYPES: dict[str, Any] = {
    RESPONSES_PATH: ResponseCreateParams,
    CHAT_PATH: CompletionCreateParams,
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def validate_request(path: str, body: dict[str, Any]) -> None:
    """Raise when ``body`` is not a valid request for the endpoint at ``path``."""
    kind = _REQUEST_TYPES[path]
    adapter = _ADAPTERS.setdefault(path, TypeAdapter(kind))
    value = adapter.validate_python(body)
    if "messages" in value:
        list(value["messages"])  # the type validates iterables lazily
    known: set[str] = set()
    for variant in getattr(kind, "__args__", (kind,)):
        known |= set(variant.__annotations__)
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"parameters the API does not know: {sorted(unknown)}")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent instead of JSON when set
    delay_s: float = 0.0  # wait this long before answering (a read timeout)
    reset: bool = False  # send the headers and half the body, then reset the connection
    # Server-sent events instead of a body: each (seconds to wait first, event text),
    # sent as one chunk of a chunked ``text/event-stream``; ``cut`` drops the connection
    # after the last one, without ending the stream.
    events: list[tuple[float, str]] | None = None
    cut: bool = False


@dataclass
class Captured:
    path: str  # GET and POST alike; ``method`` tells them apart
    headers: dict[str, str]
    body: Any
    arrived: float = field(default_factory=time.monotonic)
    method: str = "POST"


Handler = Callable[[Captured], Reply]


class LoopbackServer(ClosedOnExit):
    def __init__(self, validate: bool = True, tls: ssl.SSLContext | None = None) -> None:
        """``validate=False`` answers at once (benchmarks): checking a body against the
        official types costs tens of milliseconds per request. ``tls``: serve HTTPS
        with this server context (the handshake runs in the connection's thread)."""
        self.requests: list[Captured] = []
        self._scheme = "https" if tls is not None else "http"
        self.problems: list[str] = []
        self._script: dict[str, deque[Reply | Handler]] = {}
        server = self

        class _Handler(QuietHandler):
            disable_nagle_algorithm = True
            server_tls = tls

            def do_GET(self) -> None:  # noqa: N802
                self._answer(b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                self._answer(self.rfile.read(length))

            def _answer(self, raw: bytes) -> None:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                captured = Captured(self.path, dict(self.headers), body, method=self.command)
                server.requests.append(captured)
                if validate and self.command == "POST" and self.path in _REQUEST_TYPES:
                    try:
                        validate_request(self.path, body)
                    except Exception as exc:  # the test reads this after the run
                        server.problems.append(f"{self.path}: {exc}")
                reply = server._next(captured)
                if reply.events is not None:
                    self._stream(reply)
                    return
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.reset:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    # SO_LINGER 0: close() sends RST instead of FIN.
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    self.connection.close()
                    return
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for delay, text in reply.events or []:
                    time.sleep(delay)
                    data = text.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if reply.cut:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(b"0\r\n\r\n")

        self._httpd, self._thread = serve(_Handler, self.problems, "server")

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)  # bound to "127.0.0.1" above; never a bytes address
        return f"{self._scheme}://{host}:{port}/v1"

    def script(self, path: str, *replies: Reply | Handler) -> None:
        self._script.setdefault(path, deque()).extend(replies)

    def reset(self) -> None:
        """Forget the script and the requests seen (a server shared by several tests)."""
        self._script.clear()
        self.requests.clear()

    def reset_path(self, path: str) -> None:
        """Forget what is scripted for ``path`` only."""
        self._script.pop(path, None)

    def _next(self, captured: Captured) -> Reply:
        queue = self._script.get(captured.path)
        if not queue:
            return Reply(500, {"error": {"message": f"nothing scripted for {captured.path}"}})
        item = queue.popleft() if len(queue) > 1 else queue[0]
        return item(captured) if callable(item) else item

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- Answers built through the official response types ----------------------------------


def responses_answer(
    text: str | None,
    *,
    model: str = "gpt-5.2-pro",
    reasoning_summary: str | None = None,
    refusal: str | None = None,
    status: str = "completed",
    incomplete_reason: str | None = None,
    usage: tuple[int, int, int] = (2817, 1954, 896),
    response_id: str = "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
) -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {
            "id": "rs_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "type": "reasoning",
            "summary": (
                [{"type": "summary_text", "text": reasoning_summary}] if reasoning_summary else []
            ),
        }
    ]
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal is not None:
        content.append({"type": "refusal", "refusal": refusal})
    if content:
        output.append(
            {
                "id": "msg_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "type": "message",
                "role": "assistant",
                "status": "completed" if status == "completed" else "incomplete",
                "content": content,
            }
        )
    payload = {
        "id": response_id,
        "object": "response",
        "created_at": 1768046401,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": None,
        "metadata": {},
        "temperature": None,
        "top_p": None,
        "store": False,
        "usage": {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": usage[2]},
            "total_tokens": usage[0] + usage[1],
        },
    }
    return Response.model_validate(payload).model_dump(mode="json", exclude_unset=True)


def failed_response(
    code: str = "server_error", message: str = "The model failed."
) -> dict[str, Any]:
    payload = responses_answer(None, status="failed")
    payload["error"] = {"code": code, "message": message}
    return Response.model_validate(payload).model_dump(mode="json", exclude_unset=True)


def chat_answer(
    content: str | None,
    *,
    model: str = "deepseek-r1",
    reasoning_content: str | None = None,
    refusal: str | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int, int] = (5342, 611, 402),
    completion_id: str = "chatcmpl-4f1c2e9a7b3d4c5e8f90a1b2",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    payload = {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1768046402,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
            "completion_tokens_details": {"reasoning_tokens": usage[2]},
        },
    }
    return ChatCompletion.model_validate(payload).model_dump(mode="json", exclude_unset=True)


def error_body(
    message: str, *, code: str | None = None, kind: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# --- Streamed and background answers --------------------------------------------------


def sse(event: dict[str, Any] | str) -> str:
    """One server-sent event: ``data: <json>`` and a blank line (``[DONE]`` as is)."""
    data = event if isinstance(event, str) else json.dumps(event)
    return f"data: {data}\n\n"


def responses_stream_events(final: dict[str, Any], deltas: list[str]) -> list[dict[str, Any]]:
    """The events of a streamed response ending in ``final``, each checked against the
    official ``ResponseStreamEvent`` union."""
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": created}]
    events += [
        {
            "type": "response.output_text.delta",
            "item_id": "msg_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "output_index": 1,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        }
        for piece in deltas
    ]
    terminal = {"completed": "response.completed", "failed": "response.failed"}
    events.append({"type": terminal.get(final["status"], "response.incomplete"), "response": final})
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    for number, event in enumerate(events):
        event["sequence_number"] = number
        adapter.validate_python(event)
    return events


def chat_stream_chunks(answer: dict[str, Any], pieces: int = 4) -> list[dict[str, Any]]:
    """``answer`` (a ``chat.completion``) as the chunks a streaming server sends, with
    the usage in a last chunk (``include_usage``); each checked against the official
    ``ChatCompletionChunk``."""
    message = answer["choices"][0]["message"]
    head: dict[str, Any] = {k: answer[k] for k in ("id", "created", "model") if k in answer}
    head["object"] = "chat.completion.chunk"
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    for key in ("reasoning_content", "content"):
        text = message.get(key) or ""
        step = max(1, len(text) // pieces)
        deltas += [{key: text[i : i + step]} for i in range(0, len(text), step)]
    chunks = [
        {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        for delta in deltas
    ]
    finish = answer["choices"][0]["finish_reason"]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**head, "choices": [], "usage": answer["usage"]})
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def background_reply(final: dict[str, Any], status: str = "queued") -> dict[str, Any]:
    """What ``POST /responses`` with ``background: true`` answers at once."""
    pending = {**final, "status": status, "output": [], "usage": None, "background": True}
    return Response.model_validate(pending).model_dump(mode="json", exclude_unset=True)
