"""Commands that find and show runs: ``runs``, ``show``, ``spend``.

Like ``aiops.cli``, only typer and the standard library load at module level. PACK is
a path, a pack id or ``latest`` (``aiops.services.pack_ref``); the ledger is
``AIOPS_PACKS_DIR`` or ``./evidence_packs``.
"""

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from aiops.cli_inventory import JsonOption
from aiops.cli_support import config_dir_of, errors_handled, fail
from aiops.streams import print_json

PACK_HELP = "A pack directory, a pack id (EVP-L2-2026-01-10-001) or 'latest'."
LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        metavar="DIR",
        help="Ledger directory (default: AIOPS_PACKS_DIR or ./evidence_packs).",
        show_default=False,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        metavar="DATE", help="Only from this UTC day on (YYYY-MM-DD).", show_default=False
    ),
]


def parse_day(text: str | None, option: str = "--since") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, got {text!r}")


def pack_path(ref: str | Path) -> Path:
    """The pack ``ref`` names (a path, a pack id or ``latest``); exit 2 for an unknown id."""
    from aiops.services.pack_ref import resolve_pack

    return resolve_pack(ref)


def _registry(ctx: typer.Context) -> Any:
    from aiops.configuration import load_config

    return load_config(config_dir_of(ctx)).registry


def runs_cmd(
    ctx: typer.Context,
    layer: Annotated[
        str | None, typer.Option(metavar="LAYER", help="Only this layer (l0 … l6).")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(metavar="MODE", help="Only this mode: dry-run, replay, record, live."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            metavar="STATUS", help="Only this status: COMPLETED, REJECTED, BLOCKED, FAILED."
        ),
    ] = None,
    since: SinceOption = None,
    unreviewed: Annotated[
        bool, typer.Option("--unreviewed", help="Only packs without a review.")
    ] = False,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the ledger's packs, newest first: sequence, id, layer, mode, status, critic
    decision, review, answering model, cost and time."""
    from aiops.cli_support import LAYERS
    from aiops.services.pack_ref import default_ledger
    from aiops.services.runs import RunFilters, list_runs

    if layer is not None and layer.lower() not in LAYERS:
        fail(f"--layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    if mode is not None and mode not in ("dry-run", "replay", "record", "live"):
        fail(f"--mode must be dry-run, replay, record or live, got {mode!r}")
    statuses = ("COMPLETED", "REJECTED", "BLOCKED", "FAILED")
    if status is not None and status.upper() not in statuses:
        fail(f"--status must be one of {', '.join(statuses)}, got {status!r}")
    filters = RunFilters(layer, mode, status, parse_day(since), unreviewed)
    result = list_runs(ledger or default_ledger(), _registry(ctx), filters)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from aiops.console_runs import render_runs

        render_runs(result)


def show_cmd(
    ctx: typer.Context,
    pack: Annotated[str, typer.Argument(metavar="PACK", help=PACK_HELP)],
    as_json: JsonOption = False,
) -> None:
    """Show a pack as the operator reads it: its status, critic decision, review and
    cost, operator_output.md, and what verify-pack finds wrong with it."""
    from aiops.services.show import show_pack

    shown = show_pack(pack_path(pack), _registry(ctx))
    if as_json:
        print_json(shown.model_dump(mode="json"))
    else:
        from aiops.console_runs import render_show

        render_show(shown)


def spend_cmd(
    ctx: typer.Context,
    today: Annotated[bool, typer.Option("--today", help="Only today (UTC).")] = False,
    since: SinceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Spend and open reservations per day, model and layer, against the registry's
    budget."""
    from aiops.clock import now
    from aiops.services.spend import spend_report

    if today and since is not None:
        fail("choose one of --today and --since")
    at = now()
    day = at.date() if today else parse_day(since)
    report = spend_report(_registry(ctx).budget, at, day)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        from aiops.console_runs import render_spend

        render_spend(report)


def register(app: typer.Typer) -> None:
    app.command("runs")(errors_handled(runs_cmd))
    app.command("show")(errors_handled(show_cmd))
    app.command("spend")(errors_handled(spend_cmd))
