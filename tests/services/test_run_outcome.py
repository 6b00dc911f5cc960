"""The status of a model run fails closed: only an approving verdict completes it."""

from __future__ import annotations

import pytest

from aiops.governance.critic import CriticJudgement
from aiops.services.run_outcome import decide_status
from tests.providers._fakes import exchange_for


def judgement(decision: str | None, problem: str | None = None) -> CriticJudgement:
    return CriticJudgement(None, decision, "because", ["sha256:x"], problem=problem)


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (judgement("APPROVE"), "COMPLETED"),
        (judgement("APPROVE_WITH_CHANGES"), "COMPLETED"),
        (judgement("REJECT"), "REJECTED"),
        (judgement("APPROVE", problem="uncited"), "BLOCKED"),
        (judgement(None), "BLOCKED"),  # no decision and no stated problem: never approved
        (judgement("MAYBE"), "BLOCKED"),
        (None, "BLOCKED"),
    ],
)
def test_only_an_approving_verdict_completes(verdict: CriticJudgement | None, status: str) -> None:
    proposer, critic = exchange_for("gpt-5.2-pro"), exchange_for("deepseek-r1")
    assert decide_status(proposer, None, critic, None, None, verdict) == status
