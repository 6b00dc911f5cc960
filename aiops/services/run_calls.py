"""Calling the models of a run: the proposer down the fallback chain, its answer
stored redacted and checked against the capability scope (``call_proposer_stage``),
then the critic, whose prompt carries the proposer output as stored and the hash of
the text as received (``call_critic_stage``). How a call is retried or falls back is
``services/fallback.py``; what is decided from the answers is ``run_judging``.
"""

from __future__ import annotations

import re
from typing import Any

from aiops.errors import BudgetExceededError, SpendLedgerError
from aiops.governance.critic import judge_critic
from aiops.governance.outputs import enforce_outputs
from aiops.governance.web_check import extend_check, web_evidence
from aiops.governance.web_config import web_search_for
from aiops.prompts import RenderedPrompt, render_critic
from aiops.providers.base import Exchange, ModelRequest, ProviderCallError, WebSearch
from aiops.providers.fallback import FallbackAlert
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema
from aiops.services.fallback import call_critic, call_proposer
from aiops.services.run_data import Answers, RunContext
from aiops.services.run_outcome import not_completed, store_answer, stored_check


def model_request(
    run: RunContext,
    role: str,
    model_id: str,
    rendered: RenderedPrompt,
    schema: dict[str, Any],
    name: str,
    limit: int,
    web: WebSearch | None = None,
) -> ModelRequest:
    registry = run.pre.config.registry
    model = registry.models[model_id]
    return ModelRequest(
        role=role,  # type: ignore[arg-type]
        model_id=model_id,
        model=model,
        provider_id=model.provider,
        provider=registry.providers[model.provider],
        system_prompt=rendered.system,
        user_prompt=rendered.user,
        output_schema=schema,
        schema_name=name,
        max_output_tokens=min(limit, model.max_output_tokens),
        web=web,
    )


def proposer_request(run: RunContext, model_id: str) -> ModelRequest:
    prompts = run.prompt.prompts
    return model_request(
        run,
        "proposer",
        model_id,
        run.proposer_prompt,
        envelope_json_schema(run.pre.scope.outputs.allowed),
        _schema_name(prompts.prompt.id, "outputs"),
        prompts.proposer.max_output_tokens,
        web_search_for(run.pre.scope, run.pre.config.registry.models[model_id]),
    )


def _schema_name(prompt_id: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prompt_id}_{suffix}")[:64]


def call_proposer_stage(run: RunContext) -> Answers:
    """The proposer down the fallback chain; its answer stored redacted, its web
    sources recorded and, when it completed, its output checked against the scope."""
    answers = Answers(proposer_request=proposer_request(run, run.pre.proposer_id))
    reasons = answers.reasons
    try:
        result = call_proposer(run.stack, run.chain, lambda m: proposer_request(run, m))
    except ProviderCallError as error:
        answers.proposer_error = error
        reasons.append(f"proposer failed: {error.message}")
    except (BudgetExceededError, SpendLedgerError) as refused:
        if not run.stack.attempts:  # nothing sent yet: no pack (exit 2)
            raise
        answers.refused = refused  # else the pack records what was sent before it
        reasons.append(f"proposer not called: {refused.message}")
    else:
        answers.proposer = store_answer(result.exchange)
        answers.proposer_sod = result.candidate.sod
        answers.proposer_request = proposer_request(run, result.candidate.model_id)
        # Web sources of any answer (as stored: as verify-pack re-derives them).
        answers.web = web_evidence(answers.proposer.exchange, answers.proposer_request.web)
        if result.fell_back:
            _fallback_used(run, result.exchange, result.alert)
        if result.exchange.outcome == "completed":
            # Enforced on the text as received; everything after sees it redacted.
            answers.output_check = stored_check(
                enforce_outputs(result.exchange.answer, run.pre.scope, raw=result.exchange.text),
                answers.proposer,
            )
            answers.output_check = extend_check(answers.output_check, answers.web, run.pre.scope)
    return answers


def _fallback_used(run: RunContext, exchange: Exchange, alert: FallbackAlert | None) -> None:
    """The skipped models are warned about already (before any call); this adds the
    fallback itself: a warning when alert_on_fallback is on, else a report finding."""
    if alert is not None:  # a warning in the summary and the report
        run.warnings.append(alert.message)
        return
    failed = ", ".join(
        dict.fromkeys(f"{a.model_id} ({a.error_class})" for a in exchange.attempts if a.error_class)
    )
    run.notes.append(f"fallback used: {exchange.model_id} answered after {failed} failed")


def call_critic_stage(run: RunContext, answers: Answers) -> None:
    """The critic, when the proposer completed: reasons for an incomplete proposer
    answer or a scope violation first, then the critic's request and call."""
    proposer = answers.exchange("proposer")
    if proposer is None or answers.proposer is None:
        return
    if proposer.outcome != "completed":
        answers.reasons.append(not_completed("proposer", proposer))
        return
    output_check = answers.output_check
    assert output_check is not None
    if output_check.violations:
        answers.reasons.append(
            f"capability scope violated: {len(output_check.violations)} violation(s) "
            f"({', '.join(sorted({v.rule for v in output_check.violations}))})"
        )
    prompts, scope = run.prompt.prompts, run.pre.scope
    output_hash = answers.proposer.output_hash
    rendered = render_critic(
        prompts,
        run.pre.layer_id,
        run.pre.layer.name,
        scope,
        [i.text for i in run.inputs],
        proposer_model_id=proposer.model_id,
        proposer_output=proposer.text,  # as stored: no secret is passed on
        proposer_output_hash=output_hash,
    )
    answers.critic_request = model_request(
        run,
        "critic",
        run.pre.critic_id,
        rendered,
        strict_json_schema(CriticVerdict),
        "critic_verdict",
        prompts.critic.max_output_tokens,
    )
    _call_critic(run, answers, output_hash)


def _call_critic(run: RunContext, answers: Answers, output_hash: str) -> None:
    assert answers.critic_request is not None
    reasons = answers.reasons
    try:
        critic = call_critic(run.stack, answers.critic_request)
    except ProviderCallError as error:
        answers.critic_error = error
        reasons.append(f"critic failed: {error.message}")
        return
    except (BudgetExceededError, SpendLedgerError) as refused:
        answers.refused = refused
        reasons.append(f"critic not called: {refused.message}")
        return
    answers.critic = store_answer(critic)
    critic = answers.critic.exchange  # judged as stored: no secret reaches a reason
    if critic.outcome != "completed":
        reasons.append(not_completed("critic", critic) + " (fails closed)")
        return
    judgement = judge_critic(critic.answer, output_hash)
    answers.judgement = judgement
    if judgement.problem:
        reasons.append(judgement.problem + " (fails closed)")
    elif judgement.decision == "REJECT":
        reasons.append(f"critic rejected: {judgement.rationale}")
