"""Answers as real serving stacks send them, end to end through the CLI: DeepSeek-R1's
think block inside ``content`` (Ollama; vLLM or llama.cpp without a reasoning parser),
JSON in one Markdown code fence, both — accepted, with the raw text hashed — and the
looser forms, which still fail closed."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.canonical import prefixed_sha256
from aiops.cli import app
from tests.conftest import FakeKeys
from tests.evidence.builders import reindex, rewrite_json
from tests.services.packs import only_pack, read
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    chat_answer,
)
from tests.support.registry_edit import set_keys
from tests.support.scripts import cited_hash, proposer_reply

LIVE = ["l2", "live", "--allow-network", "--yes"]
THINK = "<think>\nThe proposer gives two scenarios and no-trade triggers.\n</think>"


def _fenced(text: str, tag: str = "json") -> str:
    return f"```{tag}\n{text}\n```"


Wrap = Callable[[str], str]


def _critic_content(wrap: Wrap) -> Callable[[Captured], Reply]:
    """A critic whose ``content`` is ``wrap(verdict JSON)``, with no reasoning_content
    beside it (as Ollama serves R1)."""

    def handle(captured: Captured) -> Reply:
        verdict = json.dumps(sample.critic_verdict(cited_hash(captured)))
        return Reply(body=chat_answer(wrap(verdict)))

    return handle


ACCEPTED: dict[str, tuple[Wrap, list[str]]] = {
    "think block": (lambda v: f"{THINK}\n\n{v}", ["think_block"]),
    "think block, no whitespace": (lambda v: f"{THINK}{v}", ["think_block"]),
    "code fence": (lambda v: _fenced(v) + "\n", ["code_fence"]),
    "untagged code fence": (lambda v: _fenced(v, ""), ["code_fence"]),
    "think block then fence": (lambda v: f"{THINK}\n{_fenced(v)}", ["think_block", "code_fence"]),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_wrapped_critic_answer_is_read_and_the_raw_text_hashed(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, case: str
) -> None:
    wrap, applied = ACCEPTED[case]
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, _critic_content(wrap))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "COMPLETED" in result.stdout and "decision APPROVE" in result.stdout
    pack = only_pack()
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    raw = wrap(json.dumps(sample.critic_verdict(proposer["output_hash"])))
    assert critic["output_text"] == raw
    assert critic["output_hash"] == prefixed_sha256(raw.encode("utf-8"))
    assert critic["normalisations"] == applied
    assert json.loads(critic["answer_text"]) == critic["parsed"]
    assert critic["answer_text"] != raw
    assert critic["evidence_ids"] == [proposer["output_hash"]]
    if "think_block" in applied:
        assert critic["reasoning_text"] == THINK[len("<think>") : -len("</think>")].strip()
    else:
        assert critic["reasoning_text"] is None
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 0


REFUSED: dict[str, tuple[Wrap, str]] = {
    "think block and nothing after it": (
        lambda v: f"{THINK}\n\n",
        "answer incomplete (empty_output)",
    ),
    "two fences": (lambda v: _fenced(v) + "\n" + _fenced(v), "critic output is not JSON"),
    "text before the fence": (lambda v: "Here it is:\n" + _fenced(v), "critic output is not JSON"),
    "text after the fence": (lambda v: _fenced(v) + "\nHope this helps.", "not JSON"),
    "think block not at the start": (lambda v: f"Sure.\n{THINK}\n{v}", "not JSON"),
    "text between think block and JSON": (lambda v: f"{THINK}\nAnswer: {v}", "not JSON"),
    "unclosed think block": (lambda v: f"<think>\nhmm {v}", "not JSON"),
    "fence in another language": (lambda v: _fenced(v, "python"), "not JSON"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_looser_forms_fail_closed(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, case: str
) -> None:
    wrap, reason = REFUSED[case]
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, _critic_content(wrap))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert "BLOCKED" in result.stdout
    assert reason in result.stderr and "fails closed" in result.stderr
    pack = only_pack()
    critic = read(pack, "critic_output.json")
    assert critic["decision"] is None and critic["parsed"] is None
    assert read(pack, "evidence_pack.json")["status"] == "BLOCKED"
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 0


def test_wrapped_proposer_answer_is_enforced_on_the_json(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    """A Chat Completions proposer (a gateway in front of the primary) that thinks and
    fences: scope enforcement reads the JSON, the critic is shown the text as received
    and cites its hash."""
    _chat_proposer(fast_config)
    text = f"{THINK}\n\n{_fenced(sample.proposer_text())}"

    def handle(captured: Captured) -> Reply:
        if captured.body["model"] == "gpt-5.2-pro":
            return Reply(body=chat_answer(text, model="gpt-5.2-pro-2025-12-11"))
        return _critic_content(lambda v: v)(captured)

    loopback.script(CHAT_PATH, handle)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    proposer = read(pack, "proposer_output.json")
    assert proposer["output_text"] == text
    assert proposer["output_hash"] == prefixed_sha256(text.encode("utf-8"))
    assert proposer["normalisations"] == ["think_block", "code_fence"]
    assert proposer["parsed"] == sample.proposer_outputs()
    critic_prompt = loopback.requests[1].body["messages"][1]["content"]
    assert text in critic_prompt and proposer["output_hash"] in critic_prompt
    assert read(pack, "capability_scope_check.json")["result"] == "PASS"


def test_a_think_block_is_scanned_as_received(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    """The think block is not parsed, but it is part of the text as received: secrets
    and order language in it are violations, as anywhere in the raw text."""
    _chat_proposer(fast_config)
    key_shaped = "sk-" + secrets.token_hex(12)
    text = f"<think>Use {key_shaped}; buy 500 shares.</think>\n{sample.proposer_text()}"

    def handle(captured: Captured) -> Reply:
        if captured.body["model"] == "gpt-5.2-pro":
            return Reply(body=chat_answer(text))
        return _critic_content(lambda v: v)(captured)

    loopback.script(CHAT_PATH, handle)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert key_shaped not in result.stderr + result.stdout
    rules = {v["rule"] for v in read(only_pack(), "capability_scope_check.json")["violations"]}
    assert rules == {"no_secrets_in_output", "no_order_language"}


def test_reasoning_is_kept_in_the_pack_for_both_roles(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, proposer_reply())

    def handle(captured: Captured) -> Reply:
        verdict = json.dumps(sample.critic_verdict(cited_hash(captured)))
        return Reply(body=chat_answer(verdict, reasoning_content=sample.CRITIC_REASONING))

    loopback.script(CHAT_PATH, handle)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    assert proposer["reasoning_text"] == sample.PROPOSER_REASONING_SUMMARY
    assert critic["reasoning_text"] == sample.CRITIC_REASONING
    assert proposer["normalisations"] == critic["normalisations"] == []
    assert proposer["answer_text"] is None and critic["answer_text"] is None


@pytest.mark.parametrize(
    "forge",
    [
        {"answer_text": '{"decision": "APPROVE"}'},  # another answer than the text holds
        {"normalisations": ["think_block"]},
        {"answer_text": None, "normalisations": []},  # hides that the text was unwrapped
    ],
)
def test_verify_pack_rederives_the_answer_from_the_raw_text(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, forge: dict[str, Any]
) -> None:
    wrap, _ = ACCEPTED["think block then fence"]
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, _critic_content(wrap))
    assert runner.invoke(app, LIVE).exit_code == 0
    pack = only_pack()
    rewrite_json(pack / "critic_output.json", lambda doc: doc.update(forge))
    reindex(pack, "critic_output.json")
    result = runner.invoke(app, ["verify-pack", str(pack), "--json"])
    assert result.exit_code == 1
    assert "answer_text / normalisations do not follow from its output_text" in result.stdout


def _chat_proposer(config: Path) -> None:
    """gpt-5.2-pro served over Chat Completions, which takes no web tool: the L2 scope
    then allows no web (else the proposer would be a config error)."""
    set_keys(config, 'models."gpt-5.2-pro"', endpoint="chat_completions", web_search="none")
    scope = config / "capability_scopes" / "L2_market_outlook.toml"
    text = scope.read_text()
    scope.write_text(text.replace('allowed = ["files", "web"]', 'allowed = ["files"]'))
