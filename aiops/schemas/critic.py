"""The critic's answer. Parsed strictly; anything else fails closed (never APPROVE)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from aiops.schemas.base import Strict

Decision = Literal["APPROVE", "APPROVE_WITH_CHANGES", "REJECT"]
DECISIONS: tuple[str, ...] = get_args(Decision)


class Finding(Strict):
    severity: Literal["info", "minor", "major", "critical"]
    detail: str = Field(min_length=1)


class CriticVerdict(Strict):
    decision: Decision
    rationale: str = Field(min_length=1)
    evidence_ids: list[str] = Field(
        description="Must cite the proposer output hash (sha256:...) it reviewed."
    )
    findings: list[Finding]
