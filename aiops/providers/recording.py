"""Record mode: wrap a real client, keep every call (answers and failures) and write
them as a transcript fixture (seed §2.3) that ``replay`` answers from.

Only request bodies and raw response JSON are kept — never a header, so never a key.
A secret in a response (a model or a gateway echoing a key, a proxy password) is
replaced by the redaction marker before it is kept (``aiops.redact.redact_json``), as
in the pack; error messages are already scrubbed. Requests hold no secret: the critic's
carries the proposer's answer as stored, redacted. A fixture holding the marker is
refused by ``replay`` (see ``replay.load_fixture``).
The fixture is written atomically at the end and never overwrites an existing file
unless asked to.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiops.canonical import pack_json, prompt_hash
from aiops.clock import isoformat, now
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.evidence.durable import discard, make_dirs, staging_path, write_all
from aiops.evidence.strict import FileRefusedError, refuse_unless_replaceable
from aiops.evidence.writer import check_can_write_in
from aiops.providers.base import Exchange, ModelClient, ModelRequest, ProviderCallError
from aiops.providers.wire import wire_for
from aiops.redact import redact_json
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
                response=redact_json(exchange.response_body)[0],
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
    try:
        exists, is_dir = os.path.lexists(path), path.is_dir()
    except OSError as exc:  # a name too long, a directory we may not enter
        raise EvidenceWriteError(f"cannot use --fixture {path}: {exc.strerror}") from None
    if is_dir:
        raise OutputExistsError(f"--fixture {path} is a directory")
    if exists and not force:
        raise OutputExistsError(f"--fixture {path} already exists; pass --force to replace it")
    if exists:  # --force replaces a fixture, never a FIFO, device or symbolic link
        try:
            refuse_unless_replaceable(path)
        except FileRefusedError as exc:
            raise OutputExistsError(f"--fixture {path} {exc}") from None
    check_can_write_in(path.parent)


def fixture_bytes(transcript: Transcript) -> bytes:
    return pack_json(transcript.model_dump(mode="json"))


def write_fixture(path: Path, data: bytes, force: bool) -> None:
    """Atomic: write a hidden temporary file beside the target, fsync, then link it into
    place (fails if the target appeared meanwhile) or, with ``force``, rename over it.
    The temporary file is gone afterwards, whatever happened."""
    tmp = staging_path(path)
    try:
        make_dirs(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExistsError(
                    f"--fixture {path} already exists; pass --force to replace it"
                ) from None
    except OSError as exc:
        raise EvidenceWriteError(f"cannot write fixture {path}: {exc.strerror}") from None
    finally:
        discard(tmp)
