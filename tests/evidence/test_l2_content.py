"""Reading regime, scenarios, triggers and uncertainty from an L2 proposer's output."""

from __future__ import annotations

from aiops.evidence.l2_content import L2Content, Scenario, read_l2_content


def test_one_output_per_scenario_and_structured_triggers() -> None:
    parsed = {
        "outputs": [
            {"type": "ScenarioReport", "scenario_id": "base", "title": "Base case"},
            {"type": "ScenarioReport", "name": "Tail", "probability": True},
            {"type": "RegimeClassification", "label": "late cycle"},
            {"type": "RegimeClassification", "regime": "ignored: first one wins"},
            {
                "type": "NoTradeTriggers",
                "conditions": [{"condition": "FOMC day"}, {"id": "T2"}, {"x": 1}, "halt"],
            },
            {"type": "UncertaintyAssessment", "overall": "high", "factors": ["data gaps"]},
            "not an object",
        ]
    }
    assert read_l2_content(parsed) == L2Content(
        regime="late cycle",
        scenarios=[Scenario("base", "Base case"), Scenario("Tail", "Tail", None)],
        no_trade_triggers=["FOMC day", "T2", '{"x":1}', "halt"],
        uncertainty=["level: high", "data gaps"],
    )


def test_anything_else_is_empty_not_an_error() -> None:
    for parsed in (
        None,
        [],
        {"outputs": "x"},
        {"outputs": [{"type": "ScenarioReport", "scenarios": [1]}]},
    ):
        assert read_l2_content(parsed) == L2Content()
