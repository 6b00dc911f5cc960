"""The critic's verdict, parsed strictly and failing closed.

Anything but a well-formed verdict that cites the proposer output hash is "not
approved": unparseable text, an unknown decision, a schema mismatch, or evidence_ids
that do not cite the exact ``sha256:`` hash of the output it was shown. The verdict
never defaults to APPROVE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aiops.governance.model_json import loads_model_json
from aiops.schemas.critic import DECISIONS, CriticVerdict, Finding


@dataclass(frozen=True)
class CriticJudgement:
    parsed: Any  # the JSON value, when the text was JSON
    decision: str | None  # APPROVE | APPROVE_WITH_CHANGES | REJECT, None when unparseable
    rationale: str
    evidence_ids: list[str]
    findings: list[Finding] = field(default_factory=list)
    problem: str | None = None  # why the verdict fails closed, when it does

    @property
    def approved(self) -> bool:
        return self.problem is None and self.decision in ("APPROVE", "APPROVE_WITH_CHANGES")


def judge_critic(text: str, proposer_output_hash: str) -> CriticJudgement:
    try:
        value = loads_model_json(text)
    except ValueError as exc:
        return CriticJudgement(None, None, "", [], problem=f"critic output is not JSON ({exc})")
    try:
        verdict = CriticVerdict.model_validate(value)
    except ValidationError as exc:
        decision = value.get("decision") if isinstance(value, dict) else None
        if isinstance(decision, str) and decision not in DECISIONS:
            problem = f"critic decision {decision[:40]!r} is not one of {', '.join(DECISIONS)}"
        else:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "top level"
            problem = f"critic output does not match the verdict schema at {where}: {error['msg']}"
        return CriticJudgement(value, None, "", [], problem=problem)
    uncited = proposer_output_hash not in verdict.evidence_ids
    return CriticJudgement(
        value,
        verdict.decision,
        verdict.rationale,
        list(verdict.evidence_ids),
        list(verdict.findings),
        f"critic evidence_ids do not cite the proposer output {proposer_output_hash}"
        if uncited
        else None,
    )
