"""Rendering of ``aiops config check``, ``aiops models`` and ``aiops layers``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from aiops.console import stdout_console
from aiops.wording import counted

if TYPE_CHECKING:
    from aiops.schemas.inventory import ConfigCheckResult, LayerList, ModelList


CHECK_SHOWN = 20  # problems shown as text; --json lists every one


def render_config_check(check: ConfigCheckResult) -> None:
    out = stdout_console()
    out.print(Text(f"aiops config check — {check.config_dir}", style="bold"))
    if check.ok:
        out.print(Text("No problems: registry, capability scopes and prompt sets are valid."))
        return
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for column in ("File", "Key", "Problem"):
        table.add_column(column, overflow="fold")
    for problem in check.problems[:CHECK_SHOWN]:
        table.add_row(Text(problem.file), Text(problem.key_path or "-"), Text(problem.reason))
    out.print(table)
    hidden = len(check.problems) - CHECK_SHOWN
    if hidden > 0:
        out.print(Text(f"... {counted(hidden, 'more problem')} (--json lists every one)"))


def render_models(inventory: ModelList) -> None:
    out = stdout_console()
    out.print(Text(f"Models — {inventory.config_dir}", style="bold"))
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for column in ("Id", "Provider", "Endpoint", "Status", "Retired on", "$/1k in", "$/1k out"):
        table.add_column(column, overflow="fold")
    for m in inventory.models:
        retired = m.retired_on or "-"
        if m.replacement:
            retired += f" (use {m.replacement})"
        table.add_row(
            Text(m.id),
            Text(m.provider),
            Text(m.endpoint),
            Text(m.status),
            Text(retired),
            f"{m.cost_per_1k_input:g}",
            f"{m.cost_per_1k_output:g}",
        )
    out.print(table)


def render_layers(inventory: LayerList) -> None:
    out = stdout_console()
    out.print(Text(f"Layers — {inventory.config_dir}", style="bold"))
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for column in ("Layer", "Name", "Autonomy", "Runs", "Primary", "Fallbacks", "Critic", "Prompt"):
        table.add_column(column, overflow="fold")
    for layer in inventory.layers:
        table.add_row(
            Text(layer.id),
            Text(layer.name),
            Text(layer.max_autonomy),
            Text(layer.runs),
            Text(layer.primary or "-"),
            Text(", ".join(layer.fallbacks) or "-"),
            Text(layer.critic or "-"),
            Text(layer.prompt or "-"),
        )
    out.print(table)
