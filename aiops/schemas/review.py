"""Schema of ``review.json``: the operator's review, a sidecar beside a pack.

The review is written after the pack and never changes it; it names the pack by id and by
the SHA-256 of its ``evidence_pack.json``, so a review cannot be moved to another pack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from aiops.schemas.base import Strict
from aiops.schemas.signature import SignatureEnvelope

Decision = Literal["APPROVE", "REJECT"]
# Seconds precision with an explicit UTC offset, as every timestamp aiops writes.
_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+00:00|Z)$"


class Review(Strict):
    review_version: Literal["1.0"] = "1.0"
    evidence_pack_id: str
    run_id: str
    evidence_pack_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    reviewer: str = Field(min_length=1)
    decision: Decision
    notes: str
    review_started_at: str = Field(pattern=_RFC3339)
    review_ended_at: str = Field(pattern=_RFC3339)
    # True: the decision was taken at the prompt, the pack on screen; False: given on the
    # command line (--approve/--reject), the time is not on-screen time. Absent in reviews
    # written before it was recorded.
    interactive: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ended < self.started:
            raise ValueError("review_ended_at is before review_started_at")
        return self

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.review_started_at)

    @property
    def ended(self) -> datetime:
        return datetime.fromisoformat(self.review_ended_at)

    @property
    def duration_seconds(self) -> float:
        """How long the operator had the pack in front of them (a pilot KPI)."""
        return (self.ended - self.started).total_seconds()


class ReviewEnvelope(SignatureEnvelope):
    """``review.dsse.json``: a DSSE envelope (the pack's envelope shape) whose payload is
    an in-toto Statement v1 with predicate type ``urn:aiops:predicate:review:v1``
    (``aiops.evidence.sign``)."""
