"""Rich rendering of ``aiops runs``, ``aiops show`` and ``aiops spend``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from aiops.console import stderr_console, stdout_console
from aiops.streams import printable
from aiops.wording import counted

if TYPE_CHECKING:
    from aiops.schemas.runs import PackShow, RunList, RunRow, SpendReport

_STATUS_STYLE = {"COMPLETED": "green", "REJECTED": "yellow", "BLOCKED": "red", "FAILED": "red"}
_COLUMNS = (
    "Seq",
    "Pack",
    "Layer",
    "Mode",
    "Status",
    "Critic",
    "Review",
    "L4",
    "Model",
    "Cost",
    "Time",
)


def cost_shown(row: RunRow) -> str:
    if row.mode == "dry-run":
        return "-"  # no model is called
    if row.cost_usd is None:
        return "unpriced"
    return f"${row.cost_usd:.4f}" + ("" if row.spent else " (recorded)")


def review_shown(row: RunRow) -> str:
    return row.review if row.reviewer is None else f"{row.review} by {row.reviewer}"


def render_runs(runs: RunList) -> None:
    """One line per pack, in plain aligned columns: a ledger of 10,000 packs lists in
    well under a second, where a Rich table would take many."""
    out = stdout_console()
    out.print(f"[bold]Runs[/bold] in {escape(runs.ledger)}: {counted(len(runs.runs), 'pack')}")
    if runs.runs:
        cells = [list(_COLUMNS)] + [_cells(row) for row in runs.runs]
        widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
        lines = [
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip()
            for line in cells
        ]
        if out.color_system is None:  # a file or a pipe: plain lines, fast
            out.print(Text("\n".join(lines)), crop=False, soft_wrap=True)
        else:
            out.print(_coloured(lines, widths), crop=False, soft_wrap=True)
    err = stderr_console()
    for problem in runs.unreadable:
        err.print(f"[yellow]warning:[/yellow] not listed: {escape(problem)}")


def _coloured(lines: list[str], widths: list[int]) -> Text:
    """The header bold and each status in its colour."""
    start = sum(widths[: _COLUMNS.index("Status")]) + 2 * _COLUMNS.index("Status")
    end = start + widths[_COLUMNS.index("Status")]
    block = Text(no_wrap=True, overflow="ignore")
    block.append(lines[0] + "\n", style="bold")
    for line in lines[1:]:
        status = line[start:end].strip()
        block.append(line[:start])
        block.append(line[start:end], style=_STATUS_STYLE.get(status, ""))
        block.append(line[end:] + "\n")
    block.rstrip()
    return block


def _cells(row: RunRow) -> list[str]:
    return [
        str(row.sequence),
        printable(row.pack_id),
        row.layer_id,
        row.mode,
        row.status,
        row.critic_decision or "-",
        printable(review_shown(row)),
        row.governance_verdict or "-",
        printable(row.proposer_model or "-"),
        cost_shown(row),
        printable(row.created),
    ]


def render_show(shown: PackShow) -> None:
    out = stdout_console()
    row = shown.run
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    style = _STATUS_STYLE[row.status]
    table.add_row("Pack", Text(f"{row.pack_id} (sequence {row.sequence})"))
    table.add_row("Path", Text(row.pack_path))
    table.add_row("Layer", f"{row.layer_id}, {row.mode}")
    table.add_row("Created", row.created)
    table.add_row("Status", Text(row.status, style=style))
    table.add_row("Critic", row.critic_decision or "no decision")
    table.add_row("Proposer", Text(row.proposer_model or "no answer"))
    table.add_row("Critic model", Text(row.critic_model or "no answer"))
    table.add_row("Cost", cost_shown(row))
    table.add_row("Review", Text(review_shown(row)))
    table.add_row("L4 verdict", row.governance_verdict or "not reviewed")
    verified = "[green]VERIFIED[/green]" if shown.verified else "[red]NOT VERIFIED[/red]"
    table.add_row("verify-pack", verified)
    if shown.operator_notes:
        table.add_row("Notes", Text(shown.operator_notes))
    out.print(table)
    for line in shown.verification:
        out.print(Text(f"  {line}", style="red" if line.startswith("error") else "yellow"))
    for problem in row.problems:
        out.print(Text(f"  unreadable: {problem}", style="yellow"))
    out.print()
    if shown.operator_output is None:
        out.print("[red]operator_output.md cannot be read[/red]")
    else:
        out.print(Text(shown.operator_output.rstrip("\n")))


def render_spend(report: SpendReport) -> None:
    out = stdout_console()
    since = f" since {report.since}" if report.since else ""
    out.print(f"[bold]Spend[/bold]{since} ({escape(report.spend_ledger)})")
    if report.rows:
        table = Table(box=None, padding=(0, 1), pad_edge=False)
        for column in ("Day", "Layer", "Model", "Calls", "Spent", "Reserved"):
            table.add_column(column, overflow="fold", no_wrap=column != "Model")
        for r in report.rows:
            table.add_row(
                r.day,
                Text(r.layer_id),
                Text(r.model_id),
                str(r.calls),
                f"${r.spent_usd:.4f}",
                f"${r.reserved_usd:.4f}" if r.reserved_usd else "-",
            )
        out.print(table)
    else:
        out.print("no spend recorded")
    b = report.budget
    out.print(
        f"Total ${report.spent_usd:.4f} spent, ${report.reserved_usd:.4f} reserved by runs "
        "not settled (an interrupted run's reservation lapses after its time-to-live)"
    )
    if not b.tracking_enabled:
        out.print("[yellow]budget tracking is disabled in the registry[/yellow]")
    out.print(
        f"Budget today ${b.today_usd:.2f} of ${b.daily_limit_usd:.2f} "
        f"(${b.remaining_today_usd:.2f} left); this month ${b.month_usd:.2f} of "
        f"${b.monthly_limit_usd:.2f} (${b.remaining_month_usd:.2f} left)"
    )
