"""Regenerate the web-research sample fixtures deterministically:

- ``fixtures/transcripts/l1_deep_research_sample.json`` — L1 Deep Research: the
  deep-research model's searches, pages opened and citations, a long reasoning summary,
  and the o3-pro critic's verdict;
- ``fixtures/transcripts/l2_market_outlook_web_sample.json`` — the L2 market outlook
  recorded with web search (``aiops l2 replay --fixture`` it; the default L2 sample is
  ``make_sample_fixture``'s).

Like ``make_sample_fixture``, it runs aiops' own record mode against the loopback
server (whose every request is checked against the official ``openai`` types), so the
prompt hashes are exactly those replay computes, then pins the latencies.

    python -m tests.support.make_l1_fixture
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from tests.support import research_sample, sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    responses_answer,
)
from tests.support.make_sample_fixture import make_fixture
from tests.support.scripts import critic_handler
from tests.support.web import web_answer

REPO = Path(__file__).resolve().parents[2]
TRANSCRIPTS = REPO / "fixtures" / "transcripts"
L1_TARGET = TRANSCRIPTS / "l1_deep_research_sample.json"
L2_WEB_TARGET = TRANSCRIPTS / "l2_market_outlook_web_sample.json"
EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00
L1_LATENCY_MS = {"proposer": 731406, "critic": 184233}  # deep research takes minutes
L2_LATENCY_MS = {"proposer": 61877, "critic": 9120}
_HASH = re.compile(r"Proposer output hash: (sha256:[0-9a-f]{64})")


def l1_proposer_reply(text: str | None = None) -> Reply:
    body_text = text if text is not None else research_sample.brief_text()
    return Reply(
        body=web_answer(
            body_text,
            research_sample.research_calls(),
            research_sample.cited_in(body_text),
            model="o3-deep-research-2025-06-26",
            reasoning_summary=research_sample.REASONING_SUMMARY,
            usage=(48211, 9377, 6144),
            response_id="resp_5d1e7a90c3b24f8e9a6b0c1d2e3f4a5b",
        )
    )


def l1_critic_reply(captured: Captured, decision: str = "APPROVE") -> Reply:
    match = _HASH.search(str(captured.body.get("input")))
    assert match, "critic prompt carries no proposer output hash"
    verdict = sample.critic_verdict(match.group(1), decision)
    verdict["rationale"] = (
        "Every finding cites allowed central-bank or NBER sources that support it; "
        "confidence is graded to the evidence and the limitations are stated."
    )
    verdict["findings"] = [
        {"severity": "minor", "detail": "F3 could give the range of the QT estimates."}
    ]
    return Reply(
        body=responses_answer(
            json.dumps(verdict),
            model="o3-pro-2025-06-10",
            reasoning_summary="Checked each finding against its cited source; no order language.",
            usage=(11873, 1402, 960),
            response_id="resp_9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49",
        )
    )


def l1_script(server: LoopbackServer, decision: str = "APPROVE") -> None:
    """Proposer (o3-deep-research) and critic (o3-pro) both answer on /responses."""

    def handle(captured: Captured) -> Reply:
        if captured.body.get("model") == "o3-pro":
            return l1_critic_reply(captured, decision)
        return l1_proposer_reply()

    server.script(RESPONSES_PATH, handle)


def l2_web_script(server: LoopbackServer) -> None:
    text = research_sample.l2_web_text()
    server.script(
        RESPONSES_PATH,
        Reply(
            body=web_answer(
                text,
                research_sample.l2_web_calls(),
                research_sample.L2_CITED,
                reasoning_summary=sample.PROPOSER_REASONING_SUMMARY,
                usage=(9412, 2211, 1024),
            )
        ),
    )
    server.script(CHAT_PATH, critic_handler())


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    with tempfile.TemporaryDirectory() as state:  # the desk's budget state stays untouched
        os.environ["XDG_STATE_HOME"] = state
        make_fixture(
            "l1", l1_script, L1_TARGET, L1_LATENCY_MS, "l1-deep-research-sample-2026-01-10"
        )
        make_fixture(
            "l2",
            l2_web_script,
            L2_WEB_TARGET,
            L2_LATENCY_MS,
            "l2-market-outlook-web-sample-2026-01-10",
        )


if __name__ == "__main__":
    main()
