"""Output types of research layers (L1 Deep Research): a research brief whose every
finding carries its citations. Registered in ``aiops.schemas.outputs.OUTPUT_MODELS``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiops.schemas.base import Strict


class Citation(Strict):
    url: str = Field(min_length=1, description="The source's URL, as consulted.")
    title: str = Field(description="The source's title.")


class Finding(Strict):
    id: str = Field(min_length=1, description="Stable id, e.g. F1.")
    statement: str = Field(min_length=1)
    confidence: Literal["low", "medium", "high"]
    citations: list[Citation] = Field(description="The sources the finding rests on.")
    rationale: str = ""


class ResearchBrief(Strict):
    type: Literal["ResearchBrief"]
    title: str = Field(min_length=1)
    question: str = Field(min_length=1, description="The research question, restated.")
    summary: str = Field(min_length=1)
    findings: list[Finding]
    limitations: list[str] = Field(description="What the evidence cannot show.")
    open_questions: list[str] = Field(description="What remains to be researched.")
    rationale: str = ""


RESEARCH_OUTPUT_MODELS: dict[str, type[Strict]] = {"ResearchBrief": ResearchBrief}
