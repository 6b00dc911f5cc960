"""Realistic model answers for the L2 sample: valid under the output contract."""

from __future__ import annotations

import copy
import json
from typing import Any

PROPOSER_OUTPUTS: dict[str, Any] = {
    "outputs": [
        {
            "type": "ScenarioReport",
            "title": "Four-week outlook after the January 9 close",
            "rationale": (
                "Rates are the dominant driver: the 10Y at its highest close since May and "
                "CPI on Jan 13 decide whether equities keep absorbing higher yields."
            ),
            "scenarios": [
                {
                    "id": "S1",
                    "name": "Range-bound digestion",
                    "probability": 0.5,
                    "horizon": "4 weeks",
                    "description": (
                        "CPI in line with consensus; 10Y holds 4.40-4.60%; SPX chops within "
                        "about 3% of 5,900 as leadership keeps rotating away from mega-cap tech."
                    ),
                    "key_drivers": ["CPI in line", "FOMC hold priced", "stable credit spreads"],
                    "signposts": ["core CPI 0.2-0.3% m/m", "VIX 14-19", "HY OAS below 320bp"],
                    "rationale": "Consensus data and a priced-in FOMC hold leave no catalyst.",
                },
                {
                    "id": "S2",
                    "name": "Rates shock, risk-off",
                    "probability": 0.3,
                    "horizon": "4 weeks",
                    "description": (
                        "Hot CPI pushes the 10Y through 4.75%; fewer cuts priced; equities "
                        "de-rate, NDX underperforms and the dollar firms."
                    ),
                    "key_drivers": ["hot core CPI", "term premium", "strong dollar"],
                    "signposts": ["10Y above 4.75%", "VIX above 22", "DXY above 106"],
                    "rationale": (
                        "Rising term premium with narrowing breadth leaves little cushion."
                    ),
                },
                {
                    "id": "S3",
                    "name": "Disinflation relief rally",
                    "probability": 0.2,
                    "horizon": "4 weeks",
                    "description": (
                        "Soft CPI and retail sales pull the 10Y back toward 4.3%; more cuts "
                        "priced; breadth broadens beyond mega-cap tech."
                    ),
                    "key_drivers": ["soft CPI", "weaker retail sales", "lower term premium"],
                    "signposts": ["10Y below 4.35%", "SPX % above 50dma over 60"],
                    "rationale": "Possible, but it needs two soft prints in a row.",
                },
            ],
        },
        {
            "type": "RegimeClassification",
            "regime": "late-cycle, rates-driven, moderately risk-on",
            "confidence": 0.6,
            "indicators": ["2s10s +34bp", "VIX 16.8 in contango", "IG OAS 82bp", "breadth 48%"],
            "rationale": "Tight credit and calm volatility, but rates set the tone.",
        },
        {
            "type": "RiskContext",
            "risks": [
                {
                    "name": "Rates volatility",
                    "severity": "high",
                    "description": "MOVE at 97.5 with the 10Y at a cycle high close.",
                },
                {
                    "name": "Narrow leadership",
                    "severity": "medium",
                    "description": "Mega-cap tech lagged the equal-weight index over 5 days.",
                },
                {
                    "name": "Event risk",
                    "severity": "medium",
                    "description": "CPI, retail sales and the FOMC fall inside the horizon.",
                },
            ],
            "rationale": "The largest risks are rate-driven and scheduled.",
        },
        {
            "type": "MacroOutlook",
            "summary": (
                "Growth steady, inflation sticky near 3% core; the Fed on hold into the "
                "January 28 FOMC; euro area growth weak."
            ),
            "key_drivers": ["US core inflation", "term premium", "euro area growth"],
            "upcoming_events": [
                "2026-01-13 US CPI",
                "2026-01-15 US retail sales",
                "2026-01-28 FOMC",
                "2026-01-30 euro area flash GDP",
            ],
            "rationale": "The calendar concentrates the outcome in the next three weeks.",
        },
        {
            "type": "UncertaintyAssessment",
            "level": "medium",
            "confidence": 0.55,
            "sources": [
                "single end-of-day snapshot, no intraday data",
                "CPI outcome binary for rates",
                "no positioning or flow data in the inputs",
            ],
            "rationale": "One snapshot and a binary CPI print limit conviction.",
        },
        {
            "type": "NoTradeTriggers",
            "triggers": [
                {
                    "id": "NT1",
                    "condition": "No new risk from 24 hours before US CPI until the release.",
                    "rationale": "Binary event for rates.",
                },
                {
                    "id": "NT2",
                    "condition": (
                        "No new risk while VIX is above 25 or HY OAS widens 50bp in a week."
                    ),
                    "rationale": "Stress regime: the scenarios above no longer apply.",
                },
                {
                    "id": "NT3",
                    "condition": "No new risk on FOMC day until the press conference ends.",
                    "rationale": "Guidance can reprice the whole curve.",
                },
            ],
            "rationale": "Scheduled events and stress signals suspend the outlook.",
        },
    ]
}

PROPOSER_REASONING_SUMMARY = (
    "Weighing the rates backdrop against calm credit; CPI on Jan 13 is the pivot, so the "
    "scenarios are framed around it."
)
CRITIC_REASONING = (
    "The proposer's scenarios sum to 1.0 and each is tied to a signpost in the snapshot. "
    "No order language, sizes or prices. Uncertainty is stated. Approve."
)


def proposer_outputs() -> dict[str, Any]:
    return copy.deepcopy(PROPOSER_OUTPUTS)


def proposer_text(outputs: dict[str, Any] | None = None) -> str:
    """The answer text as a model sends it: compact JSON, non-ASCII kept."""
    return json.dumps(PROPOSER_OUTPUTS if outputs is None else outputs, ensure_ascii=False)


def critic_verdict(output_hash: str, decision: str = "APPROVE") -> dict[str, Any]:
    return {
        "decision": decision,
        "rationale": (
            "Grounded in the snapshot, internally consistent, uncertainty stated, no-trade "
            "triggers present and nothing executable."
            if decision != "REJECT"
            else "The outlook is not grounded in the inputs."
        ),
        "evidence_ids": [output_hash],
        "findings": [
            {
                "severity": "minor",
                "detail": "S3 could name the retail-sales threshold that would confirm it.",
            }
        ],
    }
