"""Output types of the layers that build on other packs: L3 trade-plan advice and the
L4 governance verdict. Registered in ``aiops.schemas.outputs.OUTPUT_MODELS`` beside
the L2 types, so scope enforcement and the request's JSON Schema treat them alike.

A trade plan here is *advice*: a thesis, instruments by name, the conditions that
would make it relevant, what invalidates it and its risks. There is no field for an
order: no size, price, level, leverage or execution step. The scope's forbidden types
and the order-language scan still apply to every string.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiops.schemas.base import Strict


class TradeIdea(Strict):
    id: str = Field(min_length=1, description="Stable id, e.g. T1.")
    thesis: str = Field(min_length=1, description="Why the idea may be worth a human's time.")
    instruments: list[str] = Field(description="Instruments by name only, never a quantity.")
    conditions: list[str] = Field(description="What must hold before the idea is relevant.")
    invalidation: list[str] = Field(description="Observations that invalidate the idea.")
    risk_notes: list[str]
    rationale: str = ""


class TradePlanTemplate(Strict):
    type: Literal["TradePlanTemplate"]
    title: str = Field(min_length=1)
    source_outlook: str = Field(description="Which input outlook the plan builds on.")
    ideas: list[TradeIdea]
    rationale: str = ""


class ChecklistItem(Strict):
    id: str = Field(min_length=1)
    check: str = Field(min_length=1, description="What a human verifies before acting.")
    rationale: str = ""


class RiskChecklist(Strict):
    type: Literal["RiskChecklist"]
    items: list[ChecklistItem]
    rationale: str = ""


class VerdictFinding(Strict):
    severity: Literal["info", "warning", "error"]
    policy_ref: str = Field(description="A policy reference from the reviewing scope.")
    file: str = Field(description="The reviewed pack's file the finding concerns.")
    detail: str = Field(min_length=1)


class GovernanceVerdict(Strict):
    type: Literal["GovernanceVerdict"]
    verdict: Literal["ALLOW", "REVIEW_REQUIRED", "REJECT"]
    reviewed_content_sha256: str = Field(
        description="The hash on the markers around the reviewed pack's content, as given."
    )
    findings: list[VerdictFinding]
    rationale: str = ""


CHAIN_OUTPUT_MODELS: dict[str, type[Strict]] = {
    model.__name__: model for model in (TradePlanTemplate, RiskChecklist, GovernanceVerdict)
}
