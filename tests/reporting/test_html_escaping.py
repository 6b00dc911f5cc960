"""Every text the HTML report takes from a ledger is escaped, not only the ones a test
names: each string field of a real report (that the model accepts markup in) is given
markup, and the page must carry none of it as markup. The report is hand-written
f-strings with explicit ``escape`` (docs/dependencies.md, "HTML templating"); this test
is what stands in for a template engine's autoescaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aiops.reporting.html import render_html
from aiops.schemas.pilot import PilotReport
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.conftest import FIXED_EPOCH

MARK = '<b class="injected">'


@pytest.fixture(scope="module")
def report(pilot_ledger: dict[int, Path]) -> PilotReport:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        return pilot_report(
            ReportOptions(modes=frozenset({"replay"}), ledger=pilot_ledger[1].parent)
        )


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _set(doc: Any, path: tuple[Any, ...], value: str) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def test_every_string_the_model_accepts_markup_in_is_escaped(report: PilotReport) -> None:
    doc = report.model_dump(mode="json")
    hostile: list[tuple[Any, ...]] = []
    for path in _string_paths(doc):
        original = _get(doc, path)
        _set(doc, path, original + MARK)
        try:
            PilotReport.model_validate(doc)
        except ValidationError:  # a constrained field (a date, an enum): no markup fits
            _set(doc, path, original)
            continue
        hostile.append(path)
    assert len(hostile) > 20, hostile  # the ledger, pack ids, models, KPI texts, ...
    page = render_html(PilotReport.model_validate(doc))
    assert MARK not in page
    assert page.count("&lt;b class=&quot;injected&quot;&gt;") >= 1
