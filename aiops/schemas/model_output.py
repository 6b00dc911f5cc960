"""Schemas of ``proposer_output.json`` and ``critic_output.json``: one model call as the
pack records it (``aiops.services.run_outcome.model_output_document`` writes them).

``parsed`` is the strict JSON parse of the answer (``answer_text``, else
``output_text``) when the call completed and the text is JSON, else ``null``: any JSON
value, so its schema is open; verify-pack checks that it is exactly what the answer
parses to (``aiops.evidence.consistency``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from aiops.schemas.base import Strict
from aiops.schemas.critic import Decision, Finding
from aiops.schemas.redaction import Redaction
from aiops.schemas.registry import EndpointKind

Outcome = Literal["completed", "refused", "incomplete", "failed"]
_PREFIXED_SHA256 = r"^sha256:[0-9a-f]{64}$"


class Usage(Strict):
    """Tokens the answer used, as the provider reported them (zero without an answer)."""

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    reasoning_tokens: int = Field(ge=0)


class Attempt(Strict):
    """One try at one model, answered or not (``aiops.providers.base.Attempt``)."""

    model_id: str
    endpoint: str = Field(description="URL without credentials, or replay:<fixture>.")
    http_status: int | None
    error_class: str | None
    error_message: str | None
    latency_ms: int = Field(ge=0)
    retry_delay_ms: int = Field(ge=0)


class Served(Strict):
    """The model the provider says answered, against the registry's pin (threat T7)."""

    model: str | None
    system_fingerprint: str | None
    service_tier: str | None
    expected: str | None = Field(description="The registry's pinned served name, if any.")
    matches: bool | None = Field(description="null when nothing is pinned or nothing answered.")
    policy: Literal["warn", "block"]


class ModelOutput(Strict):
    """What both roles' files hold."""

    role: Literal["proposer", "critic"]
    run_id: str
    model_id: str
    provider_model: str | None
    endpoint_kind: EndpointKind
    prompt_hash: str = Field(pattern=_PREFIXED_SHA256)
    output_hash: str = Field(pattern=_PREFIXED_SHA256)
    output_text: str
    parsed: Any = Field(description="output_text parsed as strict JSON, or null.")
    outcome: Outcome
    usage: Usage
    latency_ms: int = Field(ge=0)
    attempts: list[Attempt]
    cost_usd: float = Field(ge=0)
    redaction: Redaction | None = None
    # A real server's wrapper undone (``aiops.providers.unwrap``): the JSON answer taken
    # out of output_text (null when output_text is the answer), the forms undone, the
    # reasoning text; and the served model. Optional: packs written before them verify.
    answer_text: str | None = None
    normalisations: list[Literal["think_block", "code_fence"]] = Field(default_factory=list)
    reasoning_text: str | None = None
    served: Served | None = None


class ProposerOutput(ModelOutput):
    role: Literal["proposer"]


class CriticOutput(ModelOutput):
    """The critic's call plus its verdict as judged (``decision`` is ``null`` when the
    answer could not be read: the run failed closed)."""

    role: Literal["critic"]
    decision: Decision | None
    rationale: str
    evidence_ids: list[str]
    findings: list[Finding]
