"""Sections of ``operator_output.md`` for the chained layers' outputs: L3's trade-plan
advice and risk checklist, L4's governance verdict as the model gave it (what holds
after the fail-closed rules is in the Findings, from ``governance_verdict``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.evidence.report import ReportSection


def chain_sections(by_type: dict[str, list[dict[str, Any]]]) -> list[ReportSection]:
    from aiops.evidence.report import ReportSection, _items, _one_line

    sections: list[ReportSection] = []
    ideas = [
        f"- **{_one_line(i.get('id'), 40)}:** {_one_line(i.get('thesis', ''), 240)} "
        f"(instruments: {'; '.join(_one_line(x, 80) for x in _items(i.get('instruments')))}; "
        f"invalidated by: {'; '.join(_one_line(x, 120) for x in _items(i.get('invalidation')))})"
        for plan in by_type.get("TradePlanTemplate", [])
        for i in _items(plan.get("ideas"))
        if isinstance(i, dict)
    ]
    if ideas:
        sections.append(ReportSection("Trade Plan Advice (advisory only)", ideas))
    checks = [
        f"- **{_one_line(c.get('id'), 40)}:** {_one_line(c.get('check', ''), 200)}"
        for block in by_type.get("RiskChecklist", [])
        for c in _items(block.get("items"))
        if isinstance(c, dict)
    ]
    if checks:
        sections.append(ReportSection("Risk Checklist", checks))
    verdict = [
        line
        for block in by_type.get("GovernanceVerdict", [])
        for line in [
            f"- **Verdict as answered:** {_one_line(block.get('verdict'), 40)}",
            *(
                f"- **{_one_line(f.get('severity'), 20)}** {_one_line(f.get('policy_ref'), 60)} "
                f"({_one_line(f.get('file'), 80)}): {_one_line(f.get('detail', ''), 200)}"
                for f in _items(block.get("findings"))
                if isinstance(f, dict)
            ),
        ]
    ]
    if verdict:
        sections.append(ReportSection("Governance Verdict", verdict))
    return sections
