"""Judging a model run once its calls are done: secrets found in the answers, the
status from the scope check and the critic's verdict (``run_outcome.decide_status``),
a mid-run budget refusal, each answer's served model against the registry's pin, and
the warnings the run adds on the way (``judge_run``). The governance verdict of a
reviewing layer is derived where the manifest is built (``run_writing``).
"""

from __future__ import annotations

from aiops.governance.served_model import check_served
from aiops.schemas.pack import PackStatus
from aiops.services.run_data import Answers, RunContext
from aiops.services.run_outcome import decide_status, secret_in_text


def judge_run(run: RunContext, answers: Answers) -> PackStatus:
    """The run's status; reasons go to ``answers.reasons``, warnings to the run's."""
    found = [
        f"{role}'s ({', '.join(answer.kinds)})"
        for role, answer in (("proposer", answers.proposer), ("critic", answers.critic))
        if answer is not None and answer.kinds
    ]
    if found:
        answers.reasons.append(f"secret in a model answer, stored redacted: {'; '.join(found)}")
    status = decide_status(
        answers.exchange("proposer"),
        answers.proposer_error,
        answers.exchange("critic"),
        answers.critic_error,
        answers.output_check,
        answers.judgement,
        secret_found=bool(found) or secret_in_text(answers.output_check),
    )
    if answers.refused is not None:
        status = "FAILED"  # a role went unanswered: no usable outcome (exit 2, refused)
    status = _served(run, answers, status)
    if status == "FAILED" and not run.stack.failure.fail_closed:
        run.warnings.append(
            f"fail_closed = false for {run.pre.layer_id} has no effect on a model run: "
            "without a usable answer there is nothing to pass on (FAILED)"
        )
    if run.stack.guard is not None:
        run.warnings += [w for w in run.stack.guard.warnings if w not in run.warnings]
    return status


def _served(run: RunContext, answers: Answers, status: PackStatus) -> PackStatus:
    """Threat T7: each answer's served model against the registry's pin; a mismatch
    warns or, per the layer's ``served_model_mismatch``, blocks."""
    policy = run.pre.layer.served_model_mismatch
    for role, exchange, request in (
        ("proposer", answers.exchange("proposer"), answers.proposer_request),
        ("critic", answers.exchange("critic"), answers.critic_request),
    ):
        if request is None:
            continue
        check = check_served(role, request.model_id, request.model, exchange, policy)
        answers.served[role] = check
        if check.matches is False:
            (answers.reasons if check.blocks else run.warnings).append(check.message())
    blocked = any(check.blocks for check in answers.served.values())
    return "BLOCKED" if blocked and status in ("COMPLETED", "REJECTED") else status
