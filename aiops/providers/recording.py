"""Record mode: wrap a real client, keep every call (answers and failures) and write
them as a transcript fixture (seed §2.3) that ``replay`` answers from.

Only request bodies and raw response JSON are kept — never a header, so never a key.
The fixture is written atomically at the end and never overwrites an existing file
unless asked to.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from aiops.canonical import pack_json, prompt_hash
from aiops.clock import isoformat, now
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.providers.base import Exchange, ModelClient, ModelRequest, ProviderCallError
from aiops.providers.wire import wire_for
from aiops.schemas.transcript import RecordedError, RunMetadata, Transcript, TranscriptRun


class RecordingClient:
    def __init__(self, inner: ModelClient) -> None:
        self._inner = inner
        self.runs: list[TranscriptRun] = []
        self._counts: dict[str, int] = {}

    def _run_id(self, role: str) -> str:
        self._counts[role] = self._counts.get(role, 0) + 1
        return f"{role}-run-{self._counts[role]:03d}"

    def complete(self, request: ModelRequest) -> Exchange:
        timestamp = isoformat(now())
        try:
            exchange = self._inner.complete(request)
        except ProviderCallError as error:
            body = wire_for(request.model.endpoint).build_body(request)
            latency = sum(a.latency_ms for a in error.attempts)
            self.runs.append(
                TranscriptRun(
                    run_id=self._run_id(request.role),
                    role=request.role,
                    model_id=request.model_id,
                    endpoint_kind=request.model.endpoint,
                    prompt_hash=prompt_hash(body),
                    request=body,
                    response=None,
                    error=RecordedError(
                        error_class=error.error_class,
                        message=error.message,
                        http_status=error.http_status,
                        retryable=error.retryable,
                        fallback_ok=error.fallback_ok,
                    ),
                    metadata=RunMetadata(
                        timestamp=timestamp, latency_ms=latency, http_status=error.http_status
                    ),
                )
            )
            raise
        self.runs.append(
            TranscriptRun(
                run_id=self._run_id(request.role),
                role=request.role,
                model_id=exchange.model_id,
                endpoint_kind=request.model.endpoint,
                prompt_hash=prompt_hash(exchange.request_body),
                request=exchange.request_body,
                response=exchange.response_body,
                metadata=RunMetadata(
                    timestamp=timestamp,
                    latency_ms=exchange.latency_ms,
                    http_status=exchange.attempts[-1].http_status if exchange.attempts else None,
                ),
            )
        )
        return exchange


def check_fixture_target(path: Path, force: bool) -> None:
    """Refuse before anything is sent: an existing fixture is kept unless ``force``."""
    if path.is_dir():
        raise OutputExistsError(f"--fixture {path} is a directory")
    if path.exists() and not force:
        raise OutputExistsError(f"--fixture {path} already exists; pass --force to replace it")


def fixture_bytes(transcript: Transcript) -> bytes:
    return pack_json(transcript.model_dump(mode="json"))


def write_fixture(path: Path, data: bytes, force: bool) -> None:
    """Atomic: write a hidden temporary file beside the target, fsync, then link it into
    place (fails if the target appeared meanwhile) or, with ``force``, rename over it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{path.name}-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if force:
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except FileExistsError:
        raise OutputExistsError(
            f"--fixture {path} already exists; pass --force to replace it"
        ) from None
    except OSError as exc:
        raise EvidenceWriteError(f"cannot write fixture {path}: {exc.strerror}") from None
