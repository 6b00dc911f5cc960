"""All terminal rendering. Results go to stdout, banners and warnings to stderr."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from aiops.services.network import NetworkPlan
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
    d = outcome.details
    if d is not None:
        table.add_row("Prompt", f"{m.prompt_id} v{m.prompt_version}")
        table.add_row("Inputs", escape(", ".join(i.path for i in m.inputs_manifest) or "none"))
        table.add_row(
            "Proposer", f"{d.proposer_model_id or m.primary_model_id} — {d.proposer_outcome}"
        )
        if d.critic_model_id is not None:
            decision = d.critic_decision or "none (fails closed)"
            table.add_row(
                "Verdict", f"{d.critic_model_id} — {d.critic_outcome}, decision {decision}"
            )
        table.add_row("Violations", str(d.violations))
        table.add_row("Outputs", escape(", ".join(d.outputs) or "none"))
    table.add_row("Network", "used" if m.network_used else "not used")
    table.add_row("Status", f"[{style}]{outcome.status}[/{style}]")
    out.print(table)
    for violation in outcome.scope.violations:
        where = f" (at {violation.location})" if violation.location else ""
        out.print(
            f"  [red]violation[/red] {escape(f'{violation.rule}: {violation.detail}{where}')}"
        )
    out.print(f"[bold]Artifacts[/bold] in {outcome.pack_path}")
    for name in outcome.manifest.artifacts + ["evidence_pack.json"]:
        out.print(f"  - {name}")
    if d is not None and d.fixture_written is not None:
        out.print(f"[bold]Fixture[/bold] written to {d.fixture_written}")
    err = stderr_console()
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def print_error(message: str) -> None:
    """One line on stderr; no markup interpretation of the message."""
    stderr_console().print(f"aiops: error: {message}", markup=False, highlight=False)


def render_network_banner(plan: NetworkPlan) -> None:
    """The seed's guardrail banner, on stderr: models, endpoints, worst-case cost."""
    lines = [
        f"Real model API calls will be made ({plan.mode}, {plan.layer_id} {plan.layer_name}):",
    ]
    for call in plan.calls:
        lines.append(
            f"  - {call.role}: {call.model_id} ({call.provider_model}) at {call.endpoint} — "
            f"up to {call.max_input_tokens} in / {call.max_output_tokens} out tokens, "
            f"<= ${call.worst_case_usd:.2f}"
        )
    lines += [
        f"- Costs will be incurred: worst case ${plan.worst_case_usd:.2f} "
        "(registry prices; estimated prompt size and max output tokens)",
        "- NO-LIVE trading remains enforced: outputs are advisory, nothing is executed",
        "- An evidence pack will be written",
    ]
    if plan.fixture is not None:
        lines.append(f"- The transcript will be recorded to {plan.fixture}")
    err = stderr_console()
    err.print(
        Panel(
            Text("\n".join(lines)),  # plain text: URLs such as http://[::1]/ are not markup
            title="WARNING: NETWORK MODE ENABLED",
            border_style="red",
            expand=False,
        ),
        markup=False,
    )


def confirm_network(plan: NetworkPlan, yes: bool) -> None:
    """Show the banner, then wait for ENTER unless ``--yes``. Without a terminal on
    stdin and without ``--yes`` there is no one to confirm: refuse."""
    from aiops.errors import NetworkNotAllowedError

    render_network_banner(plan)
    if yes:
        return
    if not sys.stdin.isatty():
        raise NetworkNotAllowedError(
            "no terminal to confirm on: pass --yes to run without the prompt (nothing was sent)"
        )
    stderr_console().print("Press ENTER to continue or Ctrl-C to abort...", markup=False)
    try:
        input()
    except EOFError:
        raise NetworkNotAllowedError("not confirmed (end of input); nothing was sent") from None
