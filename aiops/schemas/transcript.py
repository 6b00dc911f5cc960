"""Transcript fixtures (seed §2.3): raw requests and responses, looked up by prompt hash.

A fixture never holds a key or an auth header: only request bodies, raw response JSON
and, for a call that failed, the classified error (so a replay fails the same way).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from aiops.schemas.base import Strict
from aiops.schemas.registry import EndpointKind, LayerId

TRANSCRIPT_VERSION = "1"


class RunMetadata(Strict):
    timestamp: str
    latency_ms: int = Field(ge=0)
    http_status: int | None = None


class RecordedError(Strict):
    """A call that got no answer: replayed as the same ``ProviderCallError``."""

    error_class: str
    message: str
    http_status: int | None = None
    retryable: bool
    fallback_ok: bool


# "Exactly one of response and error" (the validator below), for JSON Schema readers.
_ANSWER_OR_ERROR: dict[str, Any] = {
    "anyOf": [
        {"properties": {"response": {"type": "object"}, "error": {"type": "null"}}},
        {"properties": {"response": {"type": "null"}, "error": {"type": "object"}}},
    ]
}


class TranscriptRun(Strict):
    model_config = ConfigDict(json_schema_extra=_ANSWER_OR_ERROR)

    run_id: str
    role: Literal["proposer", "critic"]
    model_id: str
    endpoint_kind: EndpointKind
    prompt_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    request: dict[str, Any]
    response: dict[str, Any] | None
    error: RecordedError | None = None
    metadata: RunMetadata

    @model_validator(mode="after")
    def _answer_or_error(self) -> Self:
        if (self.response is None) == (self.error is None):
            raise ValueError("a run holds exactly one of response and error")
        return self


class Transcript(Strict):
    transcript_version: str = TRANSCRIPT_VERSION
    transcript_id: str
    recorded_at: str
    scenario: str
    layer_id: LayerId
    prompt_id: str
    prompt_version: str
    runs: list[TranscriptRun]
