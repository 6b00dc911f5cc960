"""The HTTP side of long calls (``longcall.py`` has the reading and the polling): a
streamed POST read to its final response, a background POST polled to its end and
cancelled on any other way out, and the progress each attempt reports.

httpx is imported only inside the functions, like the rest of the real client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from aiops.governance.model_json import loads_model_json
from aiops.providers.base import Attempt, CallProgress, ModelRequest, ProgressSink
from aiops.providers.base import ProviderCallError as CallError
from aiops.providers.longcall import (
    StopWatch,
    cut,
    poll_background,
    read_chat_stream,
    read_responses_stream,
    timed,
)
from aiops.schemas.registry import EndpointKind

if TYPE_CHECKING:
    import httpx

# How long a cancel may take on the way out of an interrupted background call.
CANCEL_TIMEOUT_SECONDS = 5.0


class Answer(NamedTuple):
    """An HTTP answer: its status, its JSON (``None`` when it is not JSON), its headers."""

    status: int
    payload: Any
    headers: Mapping[str, str]


def read_json(content: bytes) -> Any:
    try:
        return loads_model_json(content)
    except ValueError:  # not JSON, NaN, duplicate keys, or not Unicode text
        return None


class Reporter:
    """Sends one attempt's ``CallProgress`` to the sink, if there is one."""

    def __init__(self, sink: ProgressSink | None, request: ModelRequest, attempt_no: int) -> None:
        self._sink = sink
        self._request = request
        self._attempt_no = attempt_no

    def __call__(
        self,
        phase: Literal["started", "waiting", "finished"],
        *,
        status: str | None = None,
        tokens: int = 0,
        result: Attempt | None = None,
    ) -> None:
        if self._sink is not None:
            request = self._request
            self._sink(
                CallProgress(
                    request.role, request.model_id, self._attempt_no, phase, status, tokens, result
                )
            )

    def waiting(self, status: str, tokens: int) -> None:
        self(phase="waiting", status=status, tokens=tokens)


@dataclass(frozen=True)
class Sent:
    """One attempt's request as sent: where (``shown``: the URL and any proxy, for
    messages), the body bytes, the headers, and the call's time limit in seconds."""

    url: str
    shown: str
    body: bytes
    headers: dict[str, str]
    seconds: float
    report: Reporter


def stream_answer(http: httpx.Client, kind: EndpointKind, sent: Sent, timeout: Any) -> Answer:
    """POST with ``stream: true``; the final response object read from the events. An
    error status, or a server that ignored ``stream`` and answered JSON, is returned as
    it came."""
    import httpx

    watch = StopWatch(sent.seconds)
    reader = read_responses_stream if kind is EndpointKind.RESPONSES else read_chat_stream
    with http.stream(
        "POST", sent.url, content=sent.body, headers=sent.headers, timeout=timeout
    ) as response:
        answered_json = "text/event-stream" not in response.headers.get("content-type", "")
        if response.status_code >= 400 or answered_json:
            response.read()
            return Answer(response.status_code, read_json(response.content), response.headers)
        try:
            payload = reader(timed(response.iter_lines(), watch, sent.shown), sent.report.waiting)
        except httpx.TransportError as exc:  # dropped, reset, or silent past the timeout
            raise cut(f"{type(exc).__name__} from {sent.shown}") from None
        return Answer(response.status_code, payload, response.headers)


def background_answer(
    http: httpx.Client,
    sent: Sent,
    timeout: Callable[[], Any],
    interval: float,
    http_error: Callable[[Answer], CallError],
    transport_error: Callable[[Exception], CallError],
) -> Answer:
    """POST with ``background: true``, then ``GET {url}/{id}`` every ``interval``
    seconds until a terminal status; ``POST {url}/{id}/cancel`` on any other way out.
    ``http_error`` and ``transport_error`` classify a failed poll as a failed call."""
    import httpx

    watch = StopWatch(sent.seconds)
    response = http.post(sent.url, content=sent.body, headers=sent.headers, timeout=timeout())
    first = Answer(response.status_code, read_json(response.content), response.headers)
    if first.status >= 400 or not isinstance(first.payload, dict):
        return first

    def fetch(response_id: str) -> dict[str, Any]:
        try:
            got = http.get(f"{sent.url}/{response_id}", headers=sent.headers, timeout=timeout())
        except httpx.TimeoutException:
            raise CallError(
                f"timed out polling {sent.shown}", error_class="timeout", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc) from None
        polled = Answer(got.status_code, read_json(got.content), got.headers)
        if polled.status >= 400:
            raise http_error(polled)
        if not isinstance(polled.payload, dict):
            raise CallError(
                f"polling {sent.shown}: response is not a JSON object",
                error_class="malformed_response",
                retryable=True,
            )
        return polled.payload

    def cancel(response_id: str) -> None:
        try:
            http.post(
                f"{sent.url}/{response_id}/cancel",
                headers=sent.headers,
                timeout=CANCEL_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError:
            pass  # best effort: the run is already on its way out

    final = poll_background(
        first.payload,
        fetch,
        cancel,
        interval=interval,
        watch=watch,
        on_progress=sent.report.waiting,
    )
    return Answer(first.status, final, first.headers)
