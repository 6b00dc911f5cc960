"""Retry-after over a real socket: a scripted loopback server answers 429 then 200.

The client here is a minimal test probe (status -> ProviderCallError, as the real
clients classify); it exists to show the headers, the parser and the retry loop
working together against real HTTP, with the real clock and sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from aiops.providers.base import Attempt, Exchange, ModelRequest, ProviderCallError, Usage
from aiops.providers.retry import RetryingClient, parse_retry_after
from aiops.schemas.registry import FallbackPolicy
from tests.providers._fakes import request_for

Script = list[tuple[int, dict[str, str], dict[str, object]]]


class _Server(ThreadingHTTPServer):
    script: Script
    arrivals: list[float]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.arrivals.append(time.monotonic())
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, headers, body = self.server.script.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {**headers, "content-type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.arrivals = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


class _Probe:
    def __init__(self, url: str) -> None:
        self.url = url

    def complete(self, request: ModelRequest) -> Exchange:
        started = time.monotonic()
        response = httpx.post(self.url, json={"model": request.model.provider_model})
        latency = round((time.monotonic() - started) * 1000)
        if response.status_code != 200:
            raise ProviderCallError(
                f"HTTP {response.status_code}",
                error_class="rate_limit" if response.status_code == 429 else "http_error",
                retryable=response.status_code in (408, 409, 429) or response.status_code >= 500,
                http_status=response.status_code,
                retry_after_s=parse_retry_after(response.headers, datetime.now(UTC)),
                attempts=[
                    Attempt(
                        request.model_id,
                        self.url,
                        response.status_code,
                        "rate_limit",
                        f"HTTP {response.status_code}",
                        latency,
                    )
                ],
            )
        return Exchange(
            model_id=request.model_id,
            endpoint_kind="responses",
            request_body={},
            response_body=response.json(),
            outcome="completed",
            text="ok",
            refusal=None,
            incomplete_reason=None,
            reasoning_text=None,
            usage=Usage(),
            latency_ms=latency,
            attempts=[Attempt(request.model_id, self.url, 200, None, None, latency)],
        )


POLICY = FallbackPolicy(backoff_initial_seconds=0.05, backoff_max_seconds=5, jitter_seconds=0)


@pytest.mark.parametrize(
    ("headers", "minimum"),
    [({"retry-after": "1"}, 1.0), ({"retry-after-ms": "400", "retry-after": "3"}, 0.4)],
)
def test_next_request_not_before_retry_after(
    server: _Server, headers: dict[str, str], minimum: float
) -> None:
    server.script = [
        (429, headers, {"error": {"code": "rate_limit_exceeded"}}),
        (200, {}, {"status": "completed"}),
    ]
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/responses"
    exchange = RetryingClient(_Probe(url), POLICY).complete(request_for("gpt-5.2"))
    assert len(server.arrivals) == 2
    gap = server.arrivals[1] - server.arrivals[0]
    assert gap >= minimum
    assert gap < minimum + 1.0  # honoured, not wildly exceeded
    assert [a.http_status for a in exchange.attempts] == [429, 200]
    assert exchange.attempts[0].retry_delay_ms == round(minimum * 1000)
