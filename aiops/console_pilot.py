"""Rich rendering of ``pilot drift`` and ``pilot report`` (the review screen is
``aiops.console_review``)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from aiops.console import LONG_COLUMNS, stdout_console
from aiops.wording import counted

if TYPE_CHECKING:
    from aiops.schemas.pilot import DriftResult, PilotReport

_KPI_STYLE = {"PASS": "green", "FAIL": "red", "NO DATA": "yellow"}


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
    if report.completeness_basis is not None:
        extra.add_row("Completeness by", escape(report.completeness_basis.statement))
    out.print(extra)
