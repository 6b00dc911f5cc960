"""Replay: answers from a transcript fixture, looked up by the prompt hash of the exact
request body a real client would send. It builds no HTTP client and imports no httpx;
``dry-run`` and ``replay`` never open a socket."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from pydantic import ValidationError

from aiops.canonical import prompt_hash
from aiops.errors import FixtureError
from aiops.evidence.strict import MAX_JSON_BYTES, FileRefusedError, read_regular_file
from aiops.governance.model_json import loads_model_json
from aiops.providers.base import Attempt, Exchange, ModelRequest, ProviderCallError
from aiops.providers.wire import build_exchange, wire_for
from aiops.redact import REDACTION_MARKER, strings_in
from aiops.schemas.transcript import Transcript, TranscriptRun

MAX_FIXTURE_BYTES = MAX_JSON_BYTES  # a fixture becomes a pack's transcript.json


def load_fixture(path: Path, layer_id: str, prompt_id: str) -> Transcript:
    """Read and check a fixture; every problem is a ``FixtureError`` (exit 2)."""
    try:
        raw = read_regular_file(path, max_bytes=MAX_FIXTURE_BYTES)
    except FileRefusedError as exc:
        if exc.missing:
            raise FixtureError(f"replay fixture {path} not found") from None
        raise FixtureError(f"replay fixture {path} cannot be read: {exc}") from None
    try:
        data = loads_model_json(raw.decode("utf-8"))
    except ValueError as exc:  # not UTF-8, not JSON, NaN, duplicate keys, lone surrogates
        raise FixtureError(f"replay fixture {path} is not valid JSON: {exc}") from None
    try:
        transcript = Transcript.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "top level"
        raise FixtureError(
            f"replay fixture {path} is malformed at {where}: {error['msg']}"
        ) from None
    if transcript.layer_id != layer_id:
        raise FixtureError(
            f"replay fixture {path} was recorded for layer {transcript.layer_id}, not {layer_id}"
        )
    if transcript.prompt_id != prompt_id:
        raise FixtureError(
            f"replay fixture {path} was recorded with prompt {transcript.prompt_id!r}, "
            f"not {prompt_id!r}"
        )
    if any(
        REDACTION_MARKER in text for run in transcript.runs for text in strings_in(run.response)
    ):
        # A redacted answer is not the answer the model gave: replaying it could turn a
        # run that was BLOCKED for a secret into one that passes. Fail closed.
        raise FixtureError(
            f"replay fixture {path} holds model answers redacted when it was recorded "
            f"({REDACTION_MARKER}: a secret was in them); they are not the answers as "
            "given, so it cannot be replayed; record a new fixture"
        )
    return transcript


class ReplayClient:
    """A ``ModelClient`` over a transcript. Runs with the same hash answer in order
    (a recorded failure, then its retry); the last one keeps answering."""

    def __init__(self, transcript: Transcript, source: str, layer_id: str) -> None:
        self._source = source
        self._layer = layer_id.lower()
        self._runs: dict[str, deque[TranscriptRun]] = {}
        for run in transcript.runs:
            self._runs.setdefault(run.prompt_hash, deque()).append(run)

    def complete(self, request: ModelRequest) -> Exchange:
        wire = wire_for(request.model.endpoint)
        body = wire.build_body(request)
        key = prompt_hash(body)
        queue = self._runs.get(key)
        if not queue or queue[0].role != request.role:
            raise FixtureError(
                f"replay miss: fixture {self._source} has no {request.role} response for "
                f"{request.model_id} with prompt_hash {key} (prompt, inputs or config changed "
                f"since it was recorded); record a new fixture with "
                f"`aiops {self._layer} record --allow-network --fixture FILE`"
            )
        run = queue.popleft() if len(queue) > 1 else queue[0]
        error = run.error
        attempt = Attempt(
            model_id=request.model_id,
            endpoint=f"replay:{self._source}",
            http_status=error.http_status if error else run.metadata.http_status,
            error_class=error.error_class if error else None,
            error_message=error.message if error else None,
            latency_ms=run.metadata.latency_ms,
        )
        if error is not None:
            raise ProviderCallError(
                error.message,
                error_class=error.error_class,
                retryable=error.retryable,
                fallback_ok=error.fallback_ok,
                http_status=error.http_status,
                attempts=[attempt],
            )
        assert run.response is not None  # a run holds a response or an error
        try:
            parsed = wire.parse(run.response)
        except ProviderCallError as exc:
            exc.attempts = [
                Attempt(
                    **{
                        **attempt.__dict__,
                        "error_class": exc.error_class,
                        "error_message": exc.message,
                    }
                )
            ]
            raise
        return build_exchange(
            request, wire, body, run.response, parsed, attempt.latency_ms, attempt
        )
