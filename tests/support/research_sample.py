"""Realistic answers for the L1 Deep Research sample and the L2 web variant: a cited
research brief with the deep-research model's searches, and a market outlook that
read the day's news on allowed domains."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.support import sample
from tests.support.web import find_in_page, open_page, search_call

FED = "https://www.federalreserve.gov/econres/notes/feds-notes/the-term-premium-20240517.html"
ACM = "https://www.newyorkfed.federalreserve.gov/research/data_indicators/term-premia-tabs"
KW = "https://www.federalreserve.gov/data/three-factor-nominal-term-structure-model.htm"
BIS = "https://www.bis.org/publ/qtrpdf/r_qt2312b.htm"
NBER = "https://www.nber.org/papers/w31223"
ARXIV = "https://arxiv.org/abs/2401.01234"
SSRN = "https://papers.ssrn.com/sol3/papers.cfm?abstract_id=4567890"

SOURCES: list[tuple[str, str]] = [
    (FED, "What's Driving the Term Premium? (FEDS Notes, 2024)"),
    (ACM, "Treasury Term Premia (Adrian, Crump and Moench), Federal Reserve Bank of New York"),
    (KW, "Three-Factor Nominal Term Structure Model (Kim and Wright)"),
    (BIS, "Term premia: the return of duration risk (BIS Quarterly Review, December 2023)"),
    (NBER, "Quantitative Tightening and the Term Premium (NBER Working Paper 31223)"),
]

BRIEF: dict[str, Any] = {
    "outputs": [
        {
            "type": "ResearchBrief",
            "title": "The 10-year Treasury term premium since 2022",
            "question": (
                "How has the 10-year term premium behaved since 2022, what drives it, and "
                "how reliable are the ACM and Kim-Wright estimates today?"
            ),
            "summary": (
                "Both standard estimates show the 10-year term premium rising from deeply "
                "negative in 2020-21 to around zero or slightly positive by late 2023, with "
                "a sharp rise in August-October 2023. The literature attributes the rise to "
                "inflation uncertainty, larger Treasury supply and quantitative tightening; "
                "the estimates disagree in level and are sensitive to model choices."
            ),
            "findings": [
                {
                    "id": "F1",
                    "statement": (
                        "The ACM 10-year term premium rose by roughly 1.5 percentage points "
                        "between 2021 and October 2023 and turned positive for the first "
                        "time since 2017."
                    ),
                    "confidence": "high",
                    "citations": [{"url": ACM, "title": SOURCES[1][1]}],
                    "rationale": "Published daily series; the move is large relative to noise.",
                },
                {
                    "id": "F2",
                    "statement": (
                        "Higher uncertainty about the path of inflation and policy rates is "
                        "the main driver identified in recent Federal Reserve research."
                    ),
                    "confidence": "medium",
                    "citations": [
                        {"url": FED, "title": SOURCES[0][1]},
                        {"url": BIS, "title": SOURCES[3][1]},
                    ],
                    "rationale": "Two independent institutions, similar decompositions.",
                },
                {
                    "id": "F3",
                    "statement": (
                        "Quantitative tightening and heavier coupon issuance add to the "
                        "premium, but estimates of the size of the effect vary widely."
                    ),
                    "confidence": "low",
                    "citations": [{"url": NBER, "title": SOURCES[4][1]}],
                    "rationale": "Event-study estimates with wide confidence bands.",
                },
                {
                    "id": "F4",
                    "statement": (
                        "The ACM and Kim-Wright estimates differ in level by up to a "
                        "percentage point; their changes agree better than their levels."
                    ),
                    "confidence": "medium",
                    "citations": [
                        {"url": ACM, "title": SOURCES[1][1]},
                        {"url": KW, "title": SOURCES[2][1]},
                    ],
                    "rationale": "Different state variables and survey inputs.",
                },
            ],
            "limitations": [
                "Term premia are not observed: every figure is a model estimate.",
                "Sources end in 2024; nothing here covers the latest months.",
            ],
            "open_questions": [
                "How much of the 2023 rise reversed after the December 2023 FOMC?",
                "Do survey-based expectations change the decomposition materially?",
            ],
            "rationale": "Central-bank and peer-reviewed sources only, as the question asks.",
        },
        {
            "type": "UncertaintyAssessment",
            "level": "medium",
            "confidence": 0.6,
            "sources": ["model dependence of term-premium estimates", "short post-QT sample"],
            "rationale": "Direction is clear; magnitudes are model-dependent.",
        },
    ]
}

REASONING_SUMMARY = "\n\n".join(
    [
        "**Planning the research.** The question has three parts: the behaviour of the "
        "10-year term premium since 2022, its drivers, and the reliability of the ACM and "
        "Kim-Wright estimates. I will start from the published series, then central-bank "
        "analyses of the 2023 rise, then the academic literature on supply and QT.",
        "**Reading the series.** The New York Fed publishes the ACM decomposition daily; "
        "the Board publishes Kim-Wright. Both show the premium deeply negative in 2020-21 "
        "and rising through 2023, turning positive around October 2023.",
        "**Drivers.** The FEDS Note attributes most of the 2023 rise to uncertainty about "
        "inflation and the policy path; the BIS Quarterly Review reaches a similar "
        "conclusion across advanced economies. NBER work on QT finds a positive but "
        "imprecisely estimated supply effect.",
        "**Reliability.** The two models disagree in level because they use different "
        "state variables and survey inputs; changes co-move more closely. I will state "
        "this as a limitation and keep confidence moderate where findings rest on levels.",
        "**Writing the brief.** Four findings, each with its sources; limitations and open "
        "questions stated; no recommendation of any kind.",
    ]
)


def brief() -> dict[str, Any]:
    return copy.deepcopy(BRIEF)


def brief_text(outputs: dict[str, Any] | None = None) -> str:
    return json.dumps(BRIEF if outputs is None else outputs, ensure_ascii=False)


def research_calls() -> list[dict[str, Any]]:
    """What a deep-research model does: searches, pages opened, patterns found."""
    return [
        search_call(1, ["10-year Treasury term premium 2023 rise drivers"], [FED, BIS, ARXIV]),
        search_call(2, ["ACM term premium New York Fed data"], [ACM]),
        open_page(3, ACM),
        search_call(3 + 1, ["Kim Wright term structure model Federal Reserve"], [KW]),
        open_page(5, FED),
        find_in_page(6, FED, "uncertainty"),
        search_call(7, ["quantitative tightening term premium NBER"], [NBER, SSRN]),
        open_page(8, NBER),
        open_page(9, BIS),
    ]


def cited_in(text: str) -> list[tuple[str, str]]:
    return [(url, title) for url, title in SOURCES if url in text]


# --- L2 web variant --------------------------------------------------------------------

REUTERS = "https://www.reuters.com/markets/us/treasury-yields-cpi-preview-2026-01-09/"
FRED = "https://fred.stlouisfed.org/series/DGS10"
TE = "https://tradingeconomics.com/united-states/inflation-cpi"


def l2_web_calls() -> list[dict[str, Any]]:
    return [
        search_call(11, ["US CPI January 13 2026 preview Treasury yields"], [REUTERS, TE]),
        open_page(12, REUTERS),
        search_call(13, ["10-year Treasury yield January 9 2026 close"], [FRED]),
    ]


def l2_web_text() -> str:
    """The sample outlook with the day's sources named in its rationale."""
    outputs = sample.proposer_outputs()
    macro = next(o for o in outputs["outputs"] if o["type"] == "MacroOutlook")
    macro["rationale"] += f" Sources read today: {REUTERS} and {FRED}."
    return sample.proposer_text(outputs)


L2_CITED = [
    (REUTERS, "Treasury yields edge up ahead of CPI (Reuters)"),
    (FRED, "10-Year Treasury Constant Maturity Rate (DGS10), FRED"),
]
