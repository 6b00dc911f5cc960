"""Ready-made server scripts: the happy path and the pieces tests vary."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    chat_answer,
    responses_answer,
)

HASH_IN_PROMPT = re.compile(r"Proposer output hash: (sha256:[0-9a-f]{64})")


def cited_hash(captured: Captured) -> str:
    """The proposer output hash the critic's prompt carries."""
    user = captured.body["messages"][-1]["content"]
    match = HASH_IN_PROMPT.search(user)
    assert match, "critic prompt carries no proposer output hash"
    return match.group(1)


def critic_handler(decision: str = "APPROVE", mutate: Any = None, raw: str | None = None) -> Any:
    def handle(captured: Captured) -> Reply:
        verdict = sample.critic_verdict(cited_hash(captured), decision)
        if mutate is not None:
            verdict = mutate(verdict)
        text = raw if raw is not None else json.dumps(verdict)
        return Reply(body=chat_answer(text, reasoning_content=sample.CRITIC_REASONING))

    return handle


def proposer_reply(outputs: dict[str, Any] | None = None, text: str | None = None) -> Reply:
    body_text = text if text is not None else sample.proposer_text(outputs)
    return Reply(
        body=responses_answer(body_text, reasoning_summary=sample.PROPOSER_REASONING_SUMMARY)
    )


def happy_path(server: LoopbackServer, decision: str = "APPROVE") -> None:
    server.script(RESPONSES_PATH, proposer_reply())
    server.script(CHAT_PATH, critic_handler(decision))
