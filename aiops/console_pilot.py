"""Rich rendering of the pilot's commands: ``review`` (the pack the operator decides
on, the decision recorded), ``pilot drift`` and ``pilot report``."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aiops.console import LONG_COLUMNS, STATUS_STYLE, stderr_console, stdout_console
from aiops.wording import counted

if TYPE_CHECKING:
    from aiops.schemas.pilot import DriftResult, PilotReport
    from aiops.services.review import RecordedReview, ReviewSession

_KPI_STYLE = {"PASS": "green", "FAIL": "red", "NO DATA": "yellow"}


def render_review_pack(session: ReviewSession) -> None:
    """What the operator reads before deciding (stdout)."""
    out = stdout_console()
    view, index = session.view, session.view.index
    out.print(f"[bold]Review {escape(index.evidence_pack_id)}[/bold] — {escape(str(view.path))}")
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, overflow="fold")
    table.add_column(overflow="fold")
    m = view.manifest
    table.add_row("Run", escape(f"{index.run_id} ({index.mode}, {index.creation_timestamp})"))
    table.add_row("Status", f"[{STATUS_STYLE[index.status]}]{index.status}[/]")
    if m is not None:
        table.add_row("Models", escape(f"primary {m.primary_model_id}, critic {m.critic_model_id}"))
    for role, data in (("Proposer", view.proposer), ("Critic", view.critic)):
        if data is not None:
            table.add_row(f"{role} answered", escape(str(data.get("model_id"))))
    sod = index.sod_check
    table.add_row("SoD", f"[{_KPI_STYLE[sod.result]}]{sod.result}[/] — {escape(sod.reason)}")
    scope = index.capability_scope_check
    table.add_row("Scope", f"[{_KPI_STYLE[scope.result]}]{scope.result}[/]")
    for v in scope.violations:
        table.add_row("", escape(f"violation {v.rule}: {v.detail}"))
    critic = view.critic or {}
    table.add_row("Critic decision", escape(str(critic.get("decision") or "none")))
    from aiops.services.governance_reviews import governance_shown

    table.add_row("L4 verdict", escape(governance_shown(view.path)))
    if critic.get("rationale"):
        table.add_row("Critic rationale", escape(str(critic["rationale"])))
    content = session.content
    table.add_row("Regime", escape(content.regime or "none"))
    out.print(table)
    _bullets(out, "Critic findings", [_finding(f) for f in critic.get("findings") or []])
    _bullets(
        out,
        "Scenarios",
        [
            s.name
            + (f" ({s.key})" if s.key != s.name else "")
            + (f" — p={s.probability:g}" if s.probability is not None else "")
            for s in content.scenarios
        ],
    )
    _bullets(out, "No-trade triggers", content.no_trade_triggers)
    _bullets(out, "Uncertainty", content.uncertainty)
    err = stderr_console()
    for problem in [*view.problems, *session.integrity_problems]:
        err.print(f"[yellow]warning:[/yellow] {escape(problem)}")


def _bullets(out: Console, title: str, lines: list[str]) -> None:
    out.print(f"[bold]{title}[/bold]")
    for line in lines or ["none"]:
        out.print(f"  - {escape(line)}")


def _finding(finding: object) -> str:
    if isinstance(finding, dict):
        parts = [str(finding[k]) for k in ("severity", "title", "detail", "text") if k in finding]
        return ": ".join(parts) or str(finding)
    return str(finding)


def render_review_recorded(recorded: RecordedReview) -> None:
    r = recorded.review
    stdout_console().print(
        f"Recorded {r.decision} by {r.reviewer} for {r.evidence_pack_id} "
        f"({r.duration_seconds / 60:.1f} min) in {recorded.path}"
        + (", signed" if recorded.signed else " (unsigned: no AIOPS_SIGNING_KEY)"),
        markup=False,
    )


def render_drift(result: DriftResult) -> None:
    out = stdout_console()
    flag = "[red]FLAGGED[/red]" if result.flagged else "[green]within threshold[/green]"
    out.print(
        f"[bold]Drift[/bold] {escape(result.current_pack_id)} vs baseline "
        f"{escape(result.baseline_pack_id)}"
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, overflow="fold")
    table.add_column(overflow="fold")
    table.add_row(
        "Token drift",
        f"{result.token_drift_pct:.2f} % (threshold {result.threshold_pct:g} %) — {flag}",
    )
    table.add_row(
        "Tokens",
        f"{result.baseline_tokens} vs {result.current_tokens}, "
        f"{result.matched_tokens} matched ({result.basis})",
    )
    s = result.structural
    regime = f"{s.regime_baseline} -> {s.regime_current}" if s.regime_changed else "unchanged"
    table.add_row("Regime", escape(regime))
    table.add_row("Scenarios added", escape(", ".join(s.scenarios_added) or "none"))
    table.add_row("Scenarios removed", escape(", ".join(s.scenarios_removed) or "none"))
    table.add_row("Triggers added", escape(", ".join(s.triggers_added) or "none"))
    table.add_row("Triggers removed", escape(", ".join(s.triggers_removed) or "none"))
    if result.served_model_changed:
        table.add_row(
            "Served model",
            f"[red]CHANGED[/red] {escape(str(result.served_model_baseline))} -> "
            f"{escape(str(result.served_model_current))}",
        )
    elif result.served_model_current is not None:
        table.add_row("Served model", escape(result.served_model_current))
    out.print(table)


def render_pilot_report(report: PilotReport) -> None:
    out = stdout_console()
    verdict = "[green]PASS[/green]" if report.all_pass else "[red]FAIL[/red]"
    modes = ", ".join(report.modes)
    others = f"; {counted(report.packs_other_modes, 'pack')} of other modes left out"
    out.print(
        f"[bold]Pilot report[/bold] {escape(report.ledger)}: {counted(report.packs, 'pack')} "
        f"({escape(modes)}{others if report.packs_other_modes else ''}), "
        f"{report.first_day} to {report.last_day} — {verdict}"
    )
    table = Table(title=None, show_lines=False)
    for column in ("KPI", "Value", "Threshold", "Status", "Detail"):
        table.add_column(column, overflow="fold", no_wrap=column not in LONG_COLUMNS)
    for kpi in report.kpis:
        style = _KPI_STYLE[kpi.status]
        table.add_row(
            kpi.name,
            kpi.shown_value,
            kpi.shown_threshold,
            f"[{style}]{kpi.status}[/]",
            escape(kpi.detail),
        )
    out.print(table)
    for kpi in report.kpis:
        if kpi.failing_packs:
            out.print(f"[bold]{kpi.name} failing:[/bold] {escape(', '.join(kpi.failing_packs))}")
    extra = Table(show_header=False, box=None, padding=(0, 2))
    extra.add_column(style="bold", no_wrap=True, overflow="fold")
    extra.add_column(overflow="fold")
    rate = "n/a" if report.fallback_rate_pct is None else f"{report.fallback_rate_pct:.2f} %"
    extra.add_row("Fallback rate", f"{rate} ({counted(report.fallback_packs, 'pack')})")
    per_day = "n/a" if report.cost_per_day_usd is None else f"{report.cost_per_day_usd:.4f} USD"
    extra.add_row("Cost per day", f"{per_day} (total spend {report.cost_total_usd:.4f} USD)")
    if report.cost_not_spent_usd:
        extra.add_row(
            "Not spent", f"{report.cost_not_spent_usd:.4f} USD recorded by replays and dry-runs"
        )
    if report.reviews is not None:
        r = report.reviews
        extra.add_row(
            "Reviews",
            f"{r.reviewed}/{r.due} ({r.approved} approved, {r.rejected} rejected; "
            f"{r.interactive} interactive, {r.non_interactive} without a terminal"
            + (f", {r.unknown} unrecorded" if r.unknown else "")
            + ")",
        )
    governed = [row.governance_verdict for row in report.pack_rows if row.governance_verdict]
    if governed:
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(Counter(governed).items()))
        extra.add_row("L4 verdicts", f"{len(governed)}/{len(report.pack_rows)} ({verdicts})")
    if report.unpriced_calls:
        extra.add_row("Unpriced calls", str(report.unpriced_calls))
    for m in report.latency:
        extra.add_row(
            f"Latency {escape(m.model_id)}",
            f"p50 {m.p50_ms:g} ms, p95 {m.p95_ms:g} ms ({counted(m.calls, 'call')})",
        )
    extra.add_row("Drift flagged days", ", ".join(report.drift_flagged_days) or "none")
    extra.add_row(
        "Served model changes",
        escape("; ".join(report.served_model_changes)) or "none",
    )
    extra.add_row("Baseline", escape(report.baseline_pack_id or "none"))
    extra.add_row("Verifier", escape(report.verifier))
    out.print(extra)
