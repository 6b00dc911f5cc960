"""Capability-scope enforcement on proposer output (DESIGN.md "Model output contract")."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from aiops.configuration import load_config
from aiops.governance.outputs import enforce_outputs
from aiops.schemas.scope import CapabilityScope
from tests.support import sample


@pytest.fixture
def scope() -> CapabilityScope:
    return load_config().scope_for("L2")


def rules(outputs: Any, scope: CapabilityScope) -> list[str]:
    text = outputs if isinstance(outputs, str) else json.dumps(outputs)
    return [v.rule for v in enforce_outputs(text, scope).violations]


def with_output(extra: dict[str, Any]) -> dict[str, Any]:
    outputs = sample.proposer_outputs()
    outputs["outputs"].append(extra)
    return outputs


def test_the_sample_is_clean(scope: CapabilityScope) -> None:
    result = enforce_outputs(sample.proposer_text(), scope)
    assert result.violations == []
    assert all(check.passed for check in result.checks)
    assert result.parsed == sample.PROPOSER_OUTPUTS


def test_forbidden_type_at_top_level(scope: CapabilityScope) -> None:
    result = enforce_outputs(
        json.dumps(with_output({"type": "OrderParameters", "symbol": "SPX"})), scope
    )
    (violation,) = result.violations
    assert violation.rule == "forbidden_output_type"
    assert violation.location == "$.outputs[6]"


def test_forbidden_type_nested_deep_inside_an_allowed_output(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][0]["scenarios"][1]["signposts"] = [{"type": "ExecutionCommand"}]
    result = enforce_outputs(json.dumps(outputs), scope)
    forbidden = [v for v in result.violations if v.rule == "forbidden_output_type"]
    assert forbidden and forbidden[0].location == "$.outputs[0].scenarios[1].signposts[0]"


def test_forbidden_type_as_a_key(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][1]["LiveToggle"] = {"enabled": True}
    assert "forbidden_output_type" in rules(outputs, scope)


def test_unknown_type_is_denied_by_default(scope: CapabilityScope) -> None:
    assert rules(with_output({"type": "TradeIdea", "text": "x"}), scope) == ["unknown_output_type"]


def test_output_without_type(scope: CapabilityScope) -> None:
    assert rules(with_output({"summary": "x"}), scope) == ["output_type"]


def test_schema_error_of_an_allowed_type(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][0]["scenarios"][0]["probability"] = 1.7
    result = enforce_outputs(json.dumps(outputs), scope)
    assert [v.rule for v in result.violations] == ["output_schema"]
    assert result.violations[0].location == "$.outputs[0].scenarios[0].probability"


@pytest.mark.parametrize("count", [1, 6])
def test_scenario_count_bounds(scope: CapabilityScope, count: int) -> None:
    outputs = sample.proposer_outputs()
    scenarios = outputs["outputs"][0]["scenarios"]
    outputs["outputs"][0]["scenarios"] = (scenarios * 2)[:count]
    expected = "min_scenario_count" if count < 2 else "max_scenario_count"
    assert rules(outputs, scope) == [expected]


def test_missing_uncertainty(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"] = [o for o in outputs["outputs"] if o["type"] != "UncertaintyAssessment"]
    assert rules(outputs, scope) == ["must_include_uncertainty"]


def test_missing_or_empty_no_trade_triggers(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"] = [o for o in outputs["outputs"] if o["type"] != "NoTradeTriggers"]
    assert rules(outputs, scope) == ["must_include_no_trade_triggers"]
    outputs = sample.proposer_outputs()
    outputs["outputs"][-1]["triggers"] = []
    assert rules(outputs, scope) == ["must_include_no_trade_triggers"]


def test_rationale_required_on_outputs_and_scenarios(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    del outputs["outputs"][1]["rationale"]
    outputs["outputs"][0]["scenarios"][2]["rationale"] = "  "
    assert rules(outputs, scope) == ["require_rationale", "require_rationale"]


@pytest.mark.parametrize(
    "phrase",
    [
        "Buy 100 shares of SPY at 590.",
        "sell 5 contracts",
        "Place a limit order before the CPI print.",
        "Submit the order at the open.",
        "Set a stop-loss at 5,850.",
        "take profit at $6,050",
        "Use 3x leverage on the index.",
        "leverage of 2.5x",
        "Execute the trade after FOMC.",
        "Open a long position in gold.",
        "open the trade once CPI is out",
        "position size of 2% of NAV",
        "buy SPX @ 5900",
        # Characters that match a pattern's letters only under IGNORECASE's folding
        # (long s, capital I with dot): such text is scanned by every pattern.
        "\u017fell 5 contracts",
        "pos\u0130tion size of 2% of NAV",
    ],
)
def test_order_language_is_a_violation(scope: CapabilityScope, phrase: str) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = phrase
    assert "no_order_language" in rules(outputs, scope)


@pytest.mark.parametrize(
    "phrase",
    [
        "No-trade window around CPI; no trade before the release.",
        "A sell-off at 5,800 would confirm S2.",
        "Buyers returned at 5,850 support.",
        "Corporate leverage is rising and the trade-weighted dollar is firm.",
        "The short end at 4.18% prices 1.4 cuts.",
        "Selling pressure in mega-cap tech; order flow data is missing.",
        "Stop-loss hunting is not visible in the data.",
        "Tariffs threaten open trade between the US and China.",
        "Policymakers must execute the trade-off between growth and inflation.",
    ],
)
def test_analysis_words_are_not_order_language(scope: CapabilityScope, phrase: str) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = phrase
    assert rules(outputs, scope) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: "sk-" + "A1b2C3d4" * 4,
        lambda: "Bearer " + "abcDEF123456" * 3,
        lambda: "-----BEGIN " + "RSA PRIVATE KEY-----",
        lambda: "AKIA" + "ABCDEFGHIJKLMNOP",
    ],
)
def test_secret_like_strings_are_violations_and_never_echoed(
    scope: CapabilityScope, make: Any
) -> None:
    secret = make()
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = f"context {secret} end"
    result = enforce_outputs(json.dumps(outputs), scope)
    assert [v.rule for v in result.violations] == ["no_secrets_in_output"]
    assert secret not in json.dumps([v.model_dump() for v in result.violations])


def test_secret_hidden_by_json_escapes_is_found(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = "sk-" + "Z9y8X7w6" * 3
    text = json.dumps(outputs).replace("sk-", "\\u0073k-")
    assert "no_secrets_in_output" in rules(text, scope)


def test_not_json_and_wrong_envelope(scope: CapabilityScope) -> None:
    assert rules("Here is my outlook: rates up.", scope)[0] == "output_is_json"
    assert rules({"scenarios": []}, scope)[0] == "output_envelope"
    assert rules([1, 2], scope)[0] == "output_envelope"


def test_every_violation_is_listed(scope: CapabilityScope) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"] = [
        o
        for o in outputs["outputs"]
        if o["type"] not in ("UncertaintyAssessment", "NoTradeTriggers")
    ]
    outputs["outputs"].append({"type": "PortfolioRebalance", "weights": {}})
    outputs["outputs"][3]["summary"] = "Buy 10 futures at 5900."
    found = set(rules(outputs, scope))
    assert found == {
        "forbidden_output_type",
        "must_include_uncertainty",
        "must_include_no_trade_triggers",
        "no_order_language",
    }


def test_duplicate_keys_are_not_json(scope: CapabilityScope) -> None:
    # {"type": "OrderParameters", "type": "ScenarioReport"} reads as a ScenarioReport in
    # Python and as an OrderParameters where the first key wins.
    text = sample.proposer_text().replace(
        '"type": "ScenarioReport"', '"type": "OrderParameters", "type": "ScenarioReport"', 1
    )
    assert text != sample.proposer_text()
    result = enforce_outputs(text, scope)
    assert result.parsed is None
    assert [v.rule for v in result.violations][0] == "output_is_json"
    assert "duplicate key 'type'" in result.violations[0].detail


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_not_json(scope: CapabilityScope, constant: str) -> None:
    text = sample.proposer_text().replace('"probability": 0.5', f'"probability": {constant}', 1)
    assert constant in text
    result = enforce_outputs(text, scope)
    assert result.parsed is None
    assert [v.rule for v in result.violations] == ["output_is_json"]


def test_a_known_secret_of_any_shape_is_a_violation_and_never_echoed(
    scope: CapabilityScope,
) -> None:
    from aiops.known_secrets import activate, from_values

    value = "plain" + secrets.token_hex(6)  # no secret shape: only knowing it finds it
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["summary"] = f"context {value} end"
    assert rules(outputs, scope) == []
    activate(from_values([value], "proxy_password"))
    result = enforce_outputs(json.dumps(outputs), scope)
    assert [(v.rule, v.detail) for v in result.violations] == [
        ("no_secrets_in_output", "a secret value known to this run (proxy_password)")
    ]


def test_a_secret_in_a_type_name_is_not_echoed_by_its_violation(scope: CapabilityScope) -> None:
    from aiops.known_secrets import activate, from_values

    value = "plain" + secrets.token_hex(6)
    activate(from_values([value], "provider_key"))
    result = enforce_outputs(json.dumps(with_output({"type": value, "rationale": "r"})), scope)
    assert "unknown_output_type" in {v.rule for v in result.violations}
    assert value not in json.dumps([v.model_dump() for v in result.violations])


def test_the_critic_s_answer_is_scanned_the_same_way() -> None:
    from aiops.governance.outputs import scan_secrets

    found = scan_secrets('{"rationale": "Bearer ' + "c3" * 12 + '"}', location="critic")
    assert [(v.rule, v.location) for v in found] == [("no_secrets_in_output", "critic")]
    assert scan_secrets('{"rationale": "fine"}') == []
