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

from openai.types.chat import ChatCompletion, CompletionCreateParams
from openai.types.responses import Response, ResponseCreateParams
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


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any
    arrived: float = field(default_factory=time.monotonic)


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

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                captured = Captured(self.path, dict(self.headers), body)
                server.requests.append(captured)
                if validate and self.path in _REQUEST_TYPES:
                    try:
                        validate_request(self.path, body)
                    except Exception as exc:  # the test reads this after the run
                        server.problems.append(f"{self.path}: {exc}")
                reply = server._next(captured)
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
