"""``operator_output.md``: the short report an operator reads in under a minute.

The layout follows the seed template (header, Models, SoD Check, Findings, Actions);
model runs add sections for the scope result, the critic and the proposer's content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiops.schemas.checks import ScopeCheck, SoDCheck
from aiops.schemas.manifest import RunManifest

if TYPE_CHECKING:
    from aiops.governance.critic import CriticJudgement
    from aiops.providers.base import Attempt, Exchange

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
        "# AI Autonomy — Operator Output (Summary)",
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
        *_network_section(m),
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
    out += [f"- {finding}" for finding in report.findings] or ["- No findings"]
    out += [RULE, "## Actions", ""]
    out += [f"- {action}" for action in report.actions] or ["- No actions required"]
    if m.operator_notes:
        out += [RULE, "## Operator Notes", "", m.operator_notes]
    out += [RULE, "**END OF OPERATOR OUTPUT**", ""]
    return "\n".join(out)


def _network_section(m: RunManifest) -> list[str]:
    """record/live: how requests left (no credentials); nothing for other modes."""
    if m.network is None:
        return []
    out = [RULE, "## Network", ""]
    for e in m.network.endpoints:
        how = f"via proxy {e.proxy}" if e.proxy else "direct"
        out.append(
            f"- **{e.provider_id}:** {e.base_url} — {how}"
            + (f" ({e.decided_by})" if e.decided_by else "")
        )
    trust = [f"SSL_CERT_FILE {m.network.ca_file}"] if m.network.ca_file else []
    trust += [f"SSL_CERT_DIR {m.network.ca_dir}"] if m.network.ca_dir else []
    out.append(f"- **TLS trust:** {', '.join(trust) or 'certifi'}")
    return out


def model_run_sections(
    *,
    proposer: Exchange | None,
    critic: Exchange | None,
    judgement: CriticJudgement | None,
    parsed: Any,
    attempts: Sequence[tuple[str, Attempt]] = (),
    cost_usd: float = 0.0,
    spent: bool = True,
) -> list[ReportSection]:
    """Sections of a model run: who answered, every attempt, the critic, then the
    outputs themselves (each section drawn by output type, whatever the layer)."""
    runs: list[str] = []
    for role, exchange in (("Proposer", proposer), ("Critic", critic)):
        if exchange is None:
            continue
        u = exchange.usage
        runs.append(
            f"- **{role}:** {exchange.model_id} — {exchange.outcome}, "
            f"{u.input_tokens} in / {u.output_tokens} out ({u.reasoning_tokens} reasoning) tokens, "
            f"{exchange.latency_ms} ms"
        )
        runs.append(f"  - served by {served_line(exchange)}")
    if runs:
        runs.append(
            f"- **Cost:** ${cost_usd:.4f}"
            + ("" if spent else " (recorded usage at registry prices; replayed, nothing spent)")
        )
    sections = [ReportSection("Model Runs", runs or ["- No model answered"])]
    if attempts:
        sections.append(ReportSection("Attempts", [attempt_line(r, a) for r, a in attempts]))
    if critic is not None:
        decision = judgement.decision if judgement is not None else None
        lines = [f"- **Decision:** {decision or 'none (fails closed)'}"]
        if judgement is not None:
            if judgement.problem:
                lines.append(f"- **Fails closed:** {judgement.problem}")
            if judgement.rationale:
                lines.append(f"- **Rationale:** {_one_line(judgement.rationale)}")
            lines += [f"- **{f.severity}:** {_one_line(f.detail)}" for f in judgement.findings]
        sections.append(ReportSection("Critic", lines))
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    if isinstance(outputs, list):
        sections += _output_sections([o for o in outputs if isinstance(o, dict)])
    return sections


def served_line(exchange: Exchange) -> str:
    """What the provider says answered (threat T7), as the report and summary show it."""
    served = exchange.served
    extra = [f"fingerprint {served.system_fingerprint}"] if served.system_fingerprint else []
    extra += [f"tier {served.service_tier}"] if served.service_tier else []
    name = served.model or "(the provider did not say)"
    return name + (f" ({', '.join(extra)})" if extra else "")


def attempt_line(role: str, attempt: Attempt) -> str:
    """One attempt as the summary and the report show it."""
    outcome = "ok" if attempt.error_class is None else attempt.error_class
    status = "-" if attempt.http_status is None else str(attempt.http_status)
    line = (
        f"- {role} {attempt.model_id} at {attempt.endpoint}: HTTP {status}, {outcome}, "
        f"{attempt.latency_ms} ms"
    )
    if attempt.retry_delay_ms:
        line += f", retried after {attempt.retry_delay_ms} ms"
    return line


def _one_line(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _output_sections(outputs: list[dict[str, Any]]) -> list[ReportSection]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in outputs:
        by_type.setdefault(str(item.get("type")), []).append(item)
    sections: list[ReportSection] = []
    scenarios = [
        s
        for report in by_type.get("ScenarioReport", [])
        for s in report.get("scenarios") or []
        if isinstance(s, dict)
    ]
    if scenarios:
        sections.append(
            ReportSection(
                "Scenarios",
                [
                    f"- **{_one_line(s.get('id'), 40)} {_one_line(s.get('name', ''), 80)}** "
                    f"(p={_one_line(s.get('probability'), 20)}, "
                    f"{_one_line(s.get('horizon', ''), 40)}): "
                    f"{_one_line(s.get('description', ''), 240)}"
                    for s in scenarios
                ],
            )
        )
    regime = [
        f"- {_one_line(r.get('regime', ''), 120)} (confidence {_one_line(r.get('confidence'), 20)})"
        for r in by_type.get("RegimeClassification", [])
    ]
    if regime:
        sections.append(ReportSection("Regime", regime))
    triggers = [
        f"- **{_one_line(t.get('id'), 40)}:** {_one_line(t.get('condition', ''), 200)}"
        for block in by_type.get("NoTradeTriggers", [])
        for t in block.get("triggers") or []
        if isinstance(t, dict)
    ]
    if triggers:
        sections.append(ReportSection("No-Trade Triggers", triggers))
    risks = [
        f"- **{_one_line(r.get('severity'), 20)}:** {_one_line(r.get('name', ''), 80)} — "
        f"{_one_line(r.get('description', ''), 200)}"
        for block in by_type.get("RiskContext", [])
        for r in block.get("risks") or []
        if isinstance(r, dict)
    ]
    if risks:
        sections.append(ReportSection("Risk Context", risks))
    uncertainty = [
        f"- **Level:** {_one_line(u.get('level'), 20)} "
        f"(confidence {_one_line(u.get('confidence'), 20)}); sources: "
        + "; ".join(_one_line(s, 100) for s in _items(u.get("sources")))
        for u in by_type.get("UncertaintyAssessment", [])
    ]
    if uncertainty:
        sections.append(ReportSection("Uncertainty", uncertainty))
    from aiops.evidence.chain_sections import chain_sections

    return sections + chain_sections(by_type)
