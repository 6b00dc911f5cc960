"""``operator_output.md``: the short report an operator reads in under a minute.

The layout follows the seed template (header, Models, SoD Check, Findings, Actions);
model runs add sections for the scope result, the critic and the proposer's content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiops.schemas.checks import ScopeCheck, SoDCheck
from aiops.schemas.manifest import RunManifest

RULE = "\n---\n"


@dataclass(frozen=True)
class ReportSection:
    title: str
    lines: Sequence[str]


@dataclass(frozen=True)
class OperatorReport:
    manifest: RunManifest
    status: str
    sod: SoDCheck
    scope: ScopeCheck
    findings: Sequence[str] = ()
    actions: Sequence[str] = ()
    sections: Sequence[ReportSection] = field(default_factory=tuple)


def render_operator_output(report: OperatorReport) -> str:
    m = report.manifest
    out: list[str] = [
        "# AI Autonomy — Operator Output (Kurzbericht)",
        "",
        f"**Run ID:** {m.run_id}  ",
        f"**Run Type:** {m.run_type}  ",
        f"**Status:** {report.status}  ",
        f"**Timestamp:** {m.timestamp}  ",
        f"**Layer:** {m.layer_id} ({m.layer_name})  ",
        f"**Autonomy:** {m.autonomy_level}  ",
        f"**Network used:** {'yes' if m.network_used else 'no'}",
        RULE,
        "## Models",
        "",
        f"- **Primary:** {m.primary_model_id}",
        f"- **Fallback:** {', '.join(m.fallback_model_ids) or 'none'}",
        f"- **Critic:** {m.critic_model_id}",
        RULE,
        "## SoD Check",
        "",
        f"- **Result:** {report.sod.result}",
        f"- **Reason:** {report.sod.reason}",
    ]
    out += [f"- **Warning:** {warning}" for warning in report.sod.warnings]
    out += [
        RULE,
        "## Capability Scope",
        "",
        f"- **Scope:** {report.scope.scope_id} v{report.scope.scope_version}",
        f"- **Result:** {report.scope.result}"
        + ("" if report.scope.outputs_checked else " (pre-flight only; no model output)"),
    ]
    out += [
        f"- **Violation:** {v.rule}: {v.detail}" + (f" (at {v.location})" if v.location else "")
        for v in report.scope.violations
    ]
    for section in report.sections:
        out += [RULE, f"## {section.title}", "", *section.lines]
    out += [RULE, "## Findings", ""]
    out += [f"- {finding}" for finding in report.findings] or ["- Keine Findings"]
    out += [RULE, "## Actions", ""]
    out += [f"- {action}" for action in report.actions] or ["- Keine Actions erforderlich"]
    if m.operator_notes:
        out += [RULE, "## Operator Notes", "", m.operator_notes]
    out += [RULE, "**END OF OPERATOR OUTPUT**", ""]
    return "\n".join(out)
