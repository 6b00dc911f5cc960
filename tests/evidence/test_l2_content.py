"""Reading regime, scenarios, triggers and uncertainty from an L2 proposer's output, in
the output contract of aiops.schemas.outputs."""

from __future__ import annotations

from aiops.evidence.l2_content import L2Content, Scenario, read_l2_content
from aiops.schemas.outputs import OUTPUT_MODELS
from tests.support import sample


def test_the_sample_output_reads_as_the_operator_sees_it() -> None:
    parsed = sample.proposer_outputs()
    for output in parsed["outputs"]:  # the sample is valid under the contract
        OUTPUT_MODELS[output["type"]].model_validate(output)
    assert read_l2_content(parsed) == L2Content(
        regime="late-cycle, rates-driven, moderately risk-on",
        scenarios=[
            Scenario("S1", "Range-bound digestion", 0.5),
            Scenario("S2", "Rates shock, risk-off", 0.3),
            Scenario("S3", "Disinflation relief rally", 0.2),
        ],
        no_trade_triggers=[
            "NT1: No new risk from 24 hours before US CPI until the release.",
            "NT2: No new risk while VIX is above 25 or HY OAS widens 50bp in a week.",
            "NT3: No new risk on FOMC day until the press conference ends.",
        ],
        uncertainty=[
            "level medium, confidence 0.55",
            "single end-of-day snapshot, no intraday data",
            "CPI outcome binary for rates",
            "no positioning or flow data in the inputs",
        ],
    )


def test_first_regime_wins_and_partial_entries_are_kept() -> None:
    parsed = {
        "outputs": [
            {"type": "RegimeClassification", "regime": "risk-off"},
            {"type": "RegimeClassification", "regime": "ignored: the first one wins"},
            {"type": "ScenarioReport", "scenarios": [{"name": "No id"}, {"id": "S9"}, 3]},
            {"type": "NoTradeTriggers", "triggers": [{"id": "NT1"}, {"condition": "FOMC"}, {}]},
            {"type": "UncertaintyAssessment", "confidence": 0.4, "sources": ["gaps", 7]},
            "not an object",
        ]
    }
    assert read_l2_content(parsed) == L2Content(
        regime="risk-off",
        scenarios=[Scenario("scenario 1", "No id"), Scenario("S9", "S9")],
        no_trade_triggers=["NT1", "FOMC", "?"],
        uncertainty=["confidence 0.4", "gaps"],
    )


def test_anything_else_is_empty_not_an_error() -> None:
    unreadable: list[object] = [
        None,
        [],
        {"outputs": "x"},
        {"outputs": [{"type": "ScenarioReport", "scenarios": [1]}]},
        {"outputs": [{"type": "RegimeClassification", "regime": 7}]},
    ]
    for parsed in unreadable:
        assert read_l2_content(parsed) == L2Content()
