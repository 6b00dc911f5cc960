"""All terminal rendering. Results go to stdout, banners and warnings to stderr."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from aiops.services.run_layer import RunOutcome

_STATUS_STYLE = {"COMPLETED": "green", "REJECTED": "yellow", "BLOCKED": "red", "FAILED": "red"}


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=_width())


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=False, width=_width())


def _width() -> int | None:
    raw = os.environ.get("TERMINAL_WIDTH") or os.environ.get("COLUMNS")
    return int(raw) if raw and raw.isdigit() else None


def render_run(outcome: RunOutcome) -> None:
    """The run summary of the seed's example output, as a Rich table."""
    out = stdout_console()
    m = outcome.manifest
    style = _STATUS_STYLE[outcome.status]
    out.print(f"[bold]aiops {m.run_type}[/bold] — {m.layer_id} ({m.layer_name})")
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Run ID", m.run_id)
    table.add_row(
        "Pack", f"{outcome.evidence.evidence_pack_id} (sequence {outcome.evidence.sequence})"
    )
    table.add_row("Autonomy", str(m.autonomy_level))
    table.add_row("Primary", m.primary_model_id)
    table.add_row("Fallback", ", ".join(m.fallback_model_ids) or "none")
    table.add_row("Critic", m.critic_model_id)
    table.add_row("SoD", f"{outcome.sod.result} — {outcome.sod.reason}")
    table.add_row(
        "Scope", f"{outcome.scope.result} ({outcome.scope.scope_id} v{outcome.scope.scope_version})"
    )
    table.add_row("Network", "used" if m.network_used else "not used")
    table.add_row("Status", f"[{style}]{outcome.status}[/{style}]")
    out.print(table)
    out.print(f"[bold]Artifacts[/bold] in {outcome.pack_path}")
    for name in outcome.manifest.artifacts + ["evidence_pack.json"]:
        out.print(f"  - {name}")
    err = stderr_console()
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def print_error(message: str) -> None:
    """One line on stderr; no markup interpretation of the message."""
    stderr_console().print(f"aiops: error: {message}", markup=False, highlight=False)
