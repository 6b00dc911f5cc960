"""Realistic answers for the chained samples: L3 advice from the L2 sample outlook and
the L4 governance verdict on a reviewed pack, and a loopback script that serves them.

Every value a model must echo (the proposer output hash the critic cites, the hash on
the reviewed pack's markers) is read from the request the server received, never
written here, so the answers stay right whatever the L2 sample holds.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    chat_answer,
    responses_answer,
)
from tests.support.scripts import HASH_IN_PROMPT

PACK_MARKER = re.compile(r"<<<INPUT_PACK (sha256:[0-9a-f]{64})")
FILES_IN_PACK = re.compile(r'"files": \[([^\]]*)\]')

L3_OUTPUTS: dict[str, Any] = {
    "outputs": [
        {
            "type": "TradePlanTemplate",
            "title": "Advice for the four weeks after the January 9 close",
            "source_outlook": "L2 market outlook: range-bound digestion most likely, CPI the pivot",
            "ideas": [
                {
                    "id": "T1",
                    "thesis": (
                        "If CPI prints in line, rates stay in their range and equal-weight "
                        "equities may keep gaining on mega-cap tech as leadership rotates."
                    ),
                    "instruments": ["S&P 500 equal-weight index", "Nasdaq-100 index"],
                    "conditions": [
                        "core CPI between 0.2% and 0.3% m/m",
                        "10Y yield holding its recent range",
                        "HY spreads stable",
                    ],
                    "invalidation": ["10Y closes above 4.75%", "VIX closes above 22"],
                    "risk_notes": [
                        "rotation can reverse quickly around the FOMC",
                        "one end-of-day snapshot is thin evidence",
                    ],
                    "rationale": "Follows the outlook's most likely scenario (S1).",
                },
                {
                    "id": "T2",
                    "thesis": (
                        "A hot CPI print would favour defensive duration exposure being "
                        "reviewed, as the outlook's rates-shock scenario unfolds."
                    ),
                    "instruments": ["US 10-year Treasury note", "US dollar index"],
                    "conditions": ["core CPI above 0.3% m/m", "term premium still rising"],
                    "invalidation": ["10Y back below 4.40% after the print"],
                    "risk_notes": ["the scenario has a 30% probability in the outlook"],
                    "rationale": "Follows the outlook's rates-shock scenario (S2).",
                },
            ],
            "rationale": "Two ideas, one per leading scenario; a human decides on each.",
        },
        {
            "type": "RiskChecklist",
            "items": [
                {
                    "id": "C1",
                    "check": "The L2 outlook behind this advice is still the latest and approved.",
                    "rationale": "Advice is only as current as its outlook.",
                },
                {
                    "id": "C2",
                    "check": "No scheduled event of the outlook falls inside the next 24 hours.",
                    "rationale": "The outlook's no-trade triggers name CPI and the FOMC.",
                },
                {
                    "id": "C3",
                    "check": "Risk limits and mandates are checked by the risk gate, not here.",
                    "rationale": "This layer advises; the deterministic gate decides limits.",
                },
            ],
            "rationale": "What a human confirms before relying on any idea.",
        },
        {
            "type": "ScenarioReport",
            "title": "Scenarios the advice builds on (from the outlook)",
            "scenarios": [
                {
                    "id": "S1",
                    "name": "Range-bound digestion",
                    "probability": 0.6,
                    "horizon": "4 weeks",
                    "description": "CPI in line; rates range-bound; leadership rotates.",
                    "key_drivers": ["CPI in line", "FOMC hold priced"],
                    "signposts": ["core CPI 0.2-0.3% m/m", "VIX 14-19"],
                    "rationale": "The outlook's most likely scenario, with S3 folded in.",
                },
                {
                    "id": "S2",
                    "name": "Rates shock",
                    "probability": 0.4,
                    "horizon": "4 weeks",
                    "description": "Hot CPI lifts the 10Y through 4.75%; equities de-rate.",
                    "key_drivers": ["hot core CPI", "term premium"],
                    "signposts": ["10Y above 4.75%", "VIX above 22"],
                    "rationale": "The outlook's second scenario.",
                },
            ],
            "rationale": "Kept to the two scenarios the ideas depend on.",
        },
        {
            "type": "NoTradeTriggers",
            "triggers": [
                {
                    "id": "NT1",
                    "condition": (
                        "No idea is considered from 24 hours before US CPI until it prints."
                    ),
                    "rationale": "Taken from the outlook.",
                },
                {
                    "id": "NT2",
                    "condition": "No idea is considered while VIX is above 25.",
                    "rationale": "A stress regime voids both ideas.",
                },
            ],
            "rationale": "The outlook's triggers apply to every idea.",
        },
        {
            "type": "UncertaintyAssessment",
            "level": "medium",
            "confidence": 0.5,
            "sources": ["one outlook from one snapshot", "binary CPI outcome"],
            "rationale": "Advice inherits the outlook's uncertainty and adds its own.",
        },
    ]
}


def l3_outputs() -> dict[str, Any]:
    return copy.deepcopy(L3_OUTPUTS)


def reviewed_files(captured: Captured) -> list[str]:
    """The reviewed pack's file names, as its summary in the request lists them."""
    match = FILES_IN_PACK.search(_request_text(captured))
    assert match, "the request carries no reviewed pack summary"
    return json.loads(f"[{match.group(1)}]")  # type: ignore[no-any-return]


def l4_outputs(captured: Captured, verdict: str = "ALLOW") -> dict[str, Any]:
    """A cited verdict on the pack in the request."""
    files = reviewed_files(captured)
    answer_file = "proposer_output.json" if "proposer_output.json" in files else files[0]
    return {
        "outputs": [
            {
                "type": "GovernanceVerdict",
                "verdict": verdict,
                "reviewed_content_sha256": marker_hash(captured),
                "findings": [
                    {
                        "severity": "info",
                        "policy_ref": "POL-SOD",
                        "file": "sod_check.json",
                        "detail": "Proposer and critic differ; SoD passed.",
                    },
                    {
                        "severity": "info",
                        "policy_ref": "POL-NO-EXEC",
                        "file": answer_file,
                        "detail": "No order, size, price, level or leverage in the outputs.",
                    },
                    {
                        "severity": "warning",
                        "policy_ref": "POL-GROUNDING",
                        "file": answer_file,
                        "detail": "Grounded in a single end-of-day snapshot only.",
                    },
                ],
                "rationale": "Scope held, critic approved citing the hash, nothing executable.",
            },
            {
                "type": "UncertaintyAssessment",
                "level": "low",
                "confidence": 0.8,
                "sources": ["the review sees the pack's summary, not the market"],
                "rationale": "The checks are structural and were all present.",
            },
        ]
    }


def marker_hash(captured: Captured) -> str:
    match = PACK_MARKER.search(_request_text(captured))
    assert match, "the request carries no INPUT_PACK marker"
    return match.group(1)


def _request_text(captured: Captured) -> str:
    body = captured.body
    if "input" in body:
        return str(body["input"])
    return str(body["messages"][-1]["content"])


def critic_text(captured: Captured, decision: str = "APPROVE") -> str:
    match = HASH_IN_PROMPT.search(_request_text(captured))
    assert match, "critic prompt carries no proposer output hash"
    return json.dumps(
        {
            "decision": decision,
            "rationale": "Follows from its input, cites what it relies on, nothing executable.",
            "evidence_ids": [match.group(1)],
            "findings": [{"severity": "minor", "detail": "Could name one more signpost."}],
        }
    )


Answer = Callable[[Captured], str]


def script_chain(
    server: LoopbackServer,
    proposer_model: str,
    proposer: Answer,
    critic: Answer | None = None,
) -> None:
    """Serve ``proposer`` to requests for ``proposer_model`` and a critic verdict to
    every other request, on both endpoints."""
    judge = critic or critic_text

    def handle(captured: Captured) -> Reply:
        model = captured.body.get("model")
        if model == proposer_model:
            return Reply(body=responses_answer(proposer(captured), model=model))
        if captured.path == CHAT_PATH:
            return Reply(body=chat_answer(judge(captured), model=model))
        return Reply(body=responses_answer(judge(captured), model=model))

    server.script(RESPONSES_PATH, handle)
    server.script(CHAT_PATH, handle)
