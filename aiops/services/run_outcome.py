"""The judgement of a model run and its files: status, actions and the agreed
``proposer_output.json`` / ``critic_output.json`` documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiops.canonical import prefixed_sha256, prompt_hash
from aiops.governance.critic import CriticJudgement
from aiops.governance.model_json import loads_model_json
from aiops.governance.outputs import OutputCheck
from aiops.providers.base import Attempt, Exchange, ModelRequest, ProviderCallError
from aiops.providers.wire import wire_for
from aiops.schemas.pack import PackStatus


def not_completed(role: str, exchange: Exchange) -> str:
    if exchange.outcome == "refused":
        return f"{role} {exchange.model_id} refused: {(exchange.refusal or '').strip()[:200]}"
    return f"{role} {exchange.model_id} answer incomplete ({exchange.incomplete_reason})"


def decide_status(
    proposer: Exchange | None,
    proposer_error: ProviderCallError | None,
    critic: Exchange | None,
    critic_error: ProviderCallError | None,
    output_check: OutputCheck | None,
    judgement: CriticJudgement | None,
) -> PackStatus:
    if proposer is None or proposer_error is not None or proposer.outcome != "completed":
        return "FAILED"
    if critic_error is not None:
        return "FAILED"
    if output_check is not None and output_check.violations:
        return "BLOCKED"
    if critic is None or critic.outcome != "completed" or judgement is None or judgement.problem:
        return "BLOCKED"
    if judgement.decision == "REJECT":
        return "REJECTED"
    return "COMPLETED" if judgement.approved else "BLOCKED"  # never approved by default


def actions_for(status: PackStatus, judgement: CriticJudgement | None) -> list[str]:
    if status == "COMPLETED":
        if judgement is not None and judgement.decision == "APPROVE_WITH_CHANGES":
            return ["Apply the critic's findings before circulating the outlook."]
        return ["Review the outlook; it is advisory only and triggers nothing."]
    if status == "REJECTED":
        return ["Do not use this outlook: the critic rejected it (see Critic)."]
    if status == "BLOCKED":
        return ["Do not use this outlook: it is blocked (see Findings); investigate first."]
    return ["No usable outlook: re-run when the provider is available (see Findings)."]


def model_output_document(
    role: str,
    run_id: str,
    exchange: Exchange | None,
    request: ModelRequest,
    attempts: list[Attempt],
    cost_usd: float,
) -> dict[str, Any]:
    """``proposer_output.json`` / ``critic_output.json`` in the agreed format.

    ``attempts`` are every try of the role in order (fallbacks included; on success
    they equal the exchange's). ``cost_usd`` is the answer's usage priced at the
    registry's rates (0 without an answer: a failed attempt is not billed)."""
    if exchange is not None:
        text = exchange.text
        parsed: Any = None
        if exchange.outcome == "completed":
            try:
                parsed = loads_model_json(exchange.answer)
            except ValueError:
                parsed = None
        return {
            "role": role,
            "run_id": run_id,
            "model_id": exchange.model_id,
            "provider_model": exchange.request_body.get("model"),
            "endpoint_kind": exchange.endpoint_kind,
            "prompt_hash": prompt_hash(exchange.request_body),
            "output_hash": prefixed_sha256(text.encode("utf-8")),
            "output_text": text,
            **_answer_fields(exchange),
            "parsed": parsed,
            "outcome": exchange.outcome,
            "usage": asdict(exchange.usage),
            "latency_ms": exchange.latency_ms,
            "attempts": [asdict(a) for a in exchange.attempts],
            "cost_usd": cost_usd,
        }
    body = wire_for(request.model.endpoint).build_body(request)
    return {
        "role": role,
        "run_id": run_id,
        "model_id": request.model_id,
        "provider_model": request.model.provider_model,
        "endpoint_kind": request.model.endpoint.value,
        "prompt_hash": prompt_hash(body),
        "output_hash": prefixed_sha256(b""),
        "output_text": "",
        "answer_text": None,
        "normalisations": [],
        "reasoning_text": None,
        "parsed": None,
        "outcome": "failed",
        "usage": {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0},
        "latency_ms": sum(a.latency_ms for a in attempts),
        "attempts": [asdict(a) for a in attempts],
        "cost_usd": cost_usd,
    }


def _answer_fields(exchange: Exchange) -> dict[str, Any]:
    """What a real server's wrapping of the answer leaves in the output file: the JSON
    answer as read (``None`` when nothing was unwrapped: ``output_text`` is the answer),
    the forms undone and the reasoning text. (The served model is the caller's:
    ``governance/served_model.py``.)"""
    return {
        "answer_text": exchange.answer_text,
        "normalisations": list(exchange.normalisations),
        "reasoning_text": exchange.reasoning_text,
    }
