"""Citation rules of research outputs (L1): every finding cites, enough distinct
sources, cited URLs inside the allow-list; the scope check records each."""

from __future__ import annotations

from typing import Any

from aiops.configuration import load_config
from aiops.governance.outputs import enforce_outputs
from aiops.governance.web_check import extend_check
from tests.support import research_sample


def _check(outputs: dict[str, Any]) -> list[tuple[str, str]]:
    scope = load_config().scope_for("L1")
    check = enforce_outputs(research_sample.brief_text(outputs), scope)
    extended = extend_check(check, None, scope)
    passed = {c.name: c.passed for c in extended.checks}
    assert passed["output.citations"] is (not extended.violations)
    return [(v.rule, v.location) for v in extended.violations]


def test_the_sample_brief_passes() -> None:
    assert _check(research_sample.brief()) == []


def test_a_finding_without_citations_is_a_violation() -> None:
    outputs = research_sample.brief()
    outputs["outputs"][0]["findings"][2]["citations"] = []  # F3 cited NBER alone
    assert _check(outputs) == [("finding_without_citation", "$.outputs[0].findings[2]")]


def test_too_few_distinct_sources_is_a_violation() -> None:
    outputs = research_sample.brief()
    outputs["outputs"][0]["findings"] = outputs["outputs"][0]["findings"][:1]
    assert _check(outputs) == [("min_citations", "")]


def test_a_cited_url_outside_the_allow_list_is_a_violation() -> None:
    outputs = research_sample.brief()
    finding = outputs["outputs"][0]["findings"][0]
    finding["citations"].append({"url": "https://arxiv.org.evil.com/abs/1", "title": "x"})
    assert _check(outputs) == [("citation_outside_allow_list", "$.outputs[0].findings[0]")]
