"""The judgement of a model run and its files: status, actions, the answers as stored
(secrets redacted) and the agreed ``proposer_output.json`` / ``critic_output.json``
documents."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from aiops.canonical import prefixed_sha256, prompt_hash
from aiops.governance.critic import CriticJudgement
from aiops.governance.model_json import loads_model_json
from aiops.governance.outputs import OutputCheck
from aiops.providers.base import Attempt, Exchange, ModelRequest, ProviderCallError
from aiops.providers.unwrap import unwrap
from aiops.providers.wire import wire_for
from aiops.redact import redact_json, redact_model_text
from aiops.schemas.checks import Violation
from aiops.schemas.pack import PackStatus
from aiops.schemas.redaction import Redaction


@dataclass(frozen=True)
class StoredAnswer:
    """A model's answer as the pack, the report and the transcript keep it.

    ``exchange`` is the answer with every secret (``aiops.redact.redact_model_text``)
    in its text, refusal, reasoning, incomplete reason and raw response replaced by
    the marker; ``output_hash`` stays over the text as received, so the critic's
    citation matches. ``kinds`` names what was found anywhere in the answer;
    ``redaction`` is the output file's record of the text's redaction (``None`` when
    the text is stored as received)."""

    exchange: Exchange
    output_hash: str
    kinds: tuple[str, ...]
    redaction: Redaction | None

    def violations(self, role: str) -> list[Violation]:
        """A secret anywhere in the answer is a capability-scope violation."""
        if not self.kinds:
            return []
        return [
            Violation(
                rule="no_secrets_in_output",
                detail=f"the {role}'s answer holds a secret ({', '.join(self.kinds)}); "
                "it is stored redacted",
                location=role,
            )
        ]


def store_answer(exchange: Exchange) -> StoredAnswer:
    text = redact_model_text(exchange.text)
    response, kinds = redact_json(exchange.response_body)
    kinds.update(text.kinds)
    others: dict[str, str | None] = {}
    for name in ("refusal", "reasoning_text", "incomplete_reason"):
        value = getattr(exchange, name)
        if value is not None:
            redacted = redact_model_text(value)
            kinds.update(redacted.kinds)
            others[name] = redacted.text
    redaction = (
        Redaction(
            count=text.count,
            kinds=list(text.kinds),  # type: ignore[arg-type]
            stored_text_sha256=prefixed_sha256(text.text.encode("utf-8")),
        )
        if text.redacted
        else None
    )
    stored = replace(exchange, text=text.text, response_body=response, **others)  # type: ignore[arg-type]
    if text.redacted and exchange.endpoint_kind == "chat_completions":
        # The stored answer is unwrapped from the stored text, as verify-pack re-derives it.
        answer, _, applied = unwrap(text.text)
        stored = replace(stored, answer_text=answer, normalisations=applied)
    return StoredAnswer(
        stored, prefixed_sha256(exchange.text.encode("utf-8")), tuple(sorted(kinds)), redaction
    )


def stored_check(check: OutputCheck, stored: StoredAnswer | None) -> OutputCheck:
    """The scope check of the proposer's answer with ``parsed`` read from the stored
    (redacted) text: the report and the summary show what the pack stores."""
    if stored is None or stored.redaction is None:
        return check
    try:
        parsed = loads_model_json(stored.exchange.answer)
    except ValueError:
        parsed = None
    return OutputCheck(parsed if isinstance(parsed, dict) else None, check.checks, check.violations)


def secret_violations(
    proposer: StoredAnswer | None, critic: StoredAnswer | None, check: OutputCheck | None
) -> list[Violation]:
    """A secret in either answer; a secret in the proposer's text is already a
    violation of its output's scope check."""
    found: list[Violation] = []
    if proposer is not None and not secret_in_text(check):
        found += proposer.violations("proposer")
    if critic is not None:
        found += critic.violations("critic")
    return found


def secret_in_text(check: OutputCheck | None) -> bool:
    return check is not None and any(v.rule == "no_secrets_in_output" for v in check.violations)


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
    secret_found: bool = False,
) -> PackStatus:
    """``secret_found``: an answer (the proposer's or the critic's, complete or not)
    held a secret — a capability-scope violation, so BLOCKED whatever else happened."""
    if proposer is None or proposer_error is not None:
        return "FAILED"
    if secret_found:
        return "BLOCKED"
    if proposer.outcome != "completed" or critic_error is not None:
        return "FAILED"
    if output_check is not None and output_check.violations:
        return "BLOCKED"
    if critic is None or critic.outcome != "completed" or judgement is None or judgement.problem:
        return "BLOCKED"
    if judgement.decision == "REJECT":
        return "REJECTED"
    return "COMPLETED" if judgement.approved else "BLOCKED"  # never approved by default


def actions_for(status: PackStatus, judgement: CriticJudgement | None, output: str) -> list[str]:
    """What the operator does next. ``output`` names what the run produced from the
    layer's config (``layer_output``), so no layer's wording leaks into another's."""
    if status == "COMPLETED":
        if judgement is not None and judgement.decision == "APPROVE_WITH_CHANGES":
            return [f"Apply the critic's findings before circulating the {output}."]
        return [f"Review the {output}; it is advisory only and triggers nothing."]
    if status == "REJECTED":
        return [f"Do not use this {output}: the critic rejected it (see Critic)."]
    if status == "BLOCKED":
        return [f"Do not use this {output}: it is blocked (see Findings); investigate first."]
    return [f"No usable {output}: re-run when the provider is available (see Findings)."]


def layer_output(layer_id: str, layer_name: str) -> str:
    """The run's output as the operator report names it: ``L2 Market Outlook output``."""
    return f"{layer_id} {layer_name} output"


def model_output_document(
    role: str,
    run_id: str,
    answer: StoredAnswer | None,
    request: ModelRequest,
    attempts: list[Attempt],
    cost_usd: float,
) -> dict[str, Any]:
    """``proposer_output.json`` / ``critic_output.json`` in the agreed format.

    ``answer`` is the answer as stored (secrets redacted; ``output_hash`` over the text
    as received; ``parsed`` read from the stored text; ``redaction`` records what was
    replaced). ``attempts`` are every try of the role in order (fallbacks included; on
    success they equal the exchange's). ``cost_usd`` is the answer's usage priced at
    the registry's rates (0 without an answer: a failed attempt is not billed)."""
    if answer is not None:
        exchange = answer.exchange
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
            "output_hash": answer.output_hash,
            "output_text": text,
            **_answer_fields(exchange),
            "parsed": parsed,
            "redaction": None if answer.redaction is None else answer.redaction.model_dump(),
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
        "redaction": None,
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
