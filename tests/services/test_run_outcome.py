"""The status of a model run fails closed: only an approving verdict completes it."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from aiops.canonical import prefixed_sha256
from aiops.governance.critic import CriticJudgement
from aiops.providers.base import Outcome
from aiops.redact import REDACTION_MARKER
from aiops.services.run_outcome import actions_for, decide_status, layer_output, store_answer
from tests.providers._fakes import exchange_for, failure


def judgement(decision: str | None, problem: str | None = None) -> CriticJudgement:
    return CriticJudgement(None, decision, "because", ["sha256:x"], problem=problem)


@pytest.mark.parametrize(
    ("status", "decision", "action"),
    [
        ("COMPLETED", "APPROVE", "Review the L3 Trade Plan Advisory output; it is advisory"),
        ("COMPLETED", "APPROVE_WITH_CHANGES", "Apply the critic's findings before circulating"),
        ("REJECTED", "REJECT", "Do not use this L3 Trade Plan Advisory output: the critic"),
        ("BLOCKED", None, "Do not use this L3 Trade Plan Advisory output: it is blocked"),
        ("FAILED", None, "No usable L3 Trade Plan Advisory output: re-run when"),
    ],
)
def test_actions_name_the_layers_output_never_another_layers(
    status: str, decision: str | None, action: str
) -> None:
    output = layer_output("L3", "Trade Plan Advisory")
    (line,) = actions_for(status, judgement(decision), output)  # type: ignore[arg-type]
    assert line.startswith(action)
    assert "L3 Trade Plan Advisory output" in line
    assert "outlook" not in line.lower()


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


@pytest.mark.parametrize(
    ("proposer_outcome", "critic_error", "verdict"),
    [
        ("completed", False, judgement("APPROVE")),
        ("completed", True, None),  # the critic failed: FAILED without the secret
        ("refused", False, None),  # a refusal: FAILED without the secret
    ],
)
def test_a_secret_in_an_answer_blocks_whatever_else_happened(
    proposer_outcome: Outcome, critic_error: bool, verdict: CriticJudgement | None
) -> None:
    proposer = replace(exchange_for("gpt-5.2-pro"), outcome=proposer_outcome)
    critic = exchange_for("deepseek-r1")
    error = failure("server_error") if critic_error else None
    args = (proposer, None, critic, error, None, verdict)
    assert decide_status(*args, secret_found=True) == "BLOCKED"
    assert decide_status(*args) != "BLOCKED"


def test_an_answer_is_stored_redacted_with_the_hash_of_the_text_as_received() -> None:
    from aiops.known_secrets import activate, from_values

    key = "plain" + secrets.token_hex(6)
    activate(from_values([key], "provider_key"))
    text = json.dumps({"outputs": [], "note": key})
    received = replace(
        exchange_for("gpt-5.2-pro"),
        text=text,
        response_body={"output_text": text, "reasoning": f"thought {key}"},
        reasoning_text=f"thought {key}",
    )
    stored = store_answer(received)
    assert stored.output_hash == prefixed_sha256(text.encode())
    assert key not in json.dumps(
        [stored.exchange.text, stored.exchange.response_body, stored.exchange.reasoning_text]
    )
    assert stored.redaction is not None and stored.redaction.count == 1
    assert stored.redaction.stored_text_sha256 == prefixed_sha256(stored.exchange.text.encode())
    assert [v.location for v in stored.violations("proposer")] == ["proposer"]
    clean = store_answer(exchange_for("gpt-5.2-pro"))
    assert clean.redaction is None and clean.kinds == () and clean.violations("critic") == []


def test_a_secret_only_in_the_reasoning_is_a_violation_without_a_text_record() -> None:
    from aiops.known_secrets import activate, from_values

    key = "plain" + secrets.token_hex(6)
    activate(from_values([key], "provider_key"))
    stored = store_answer(replace(exchange_for("deepseek-r1"), reasoning_text=key))
    assert stored.redaction is None and stored.kinds == ("provider_key",)
    assert stored.exchange.reasoning_text == REDACTION_MARKER
    assert len(stored.violations("critic")) == 1
