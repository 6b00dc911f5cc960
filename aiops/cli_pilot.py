"""The pilot's commands: ``review`` (the operator's decision on a pack) and ``pilot
drift`` / ``pilot report`` (drift and the KPIs).

Like ``aiops.cli``, only typer and the standard library load at module level.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from aiops.cli_inventory import JsonOption
from aiops.cli_runs import PACK_HELP
from aiops.cli_support import (
    AiopsGroup,
    config_dir_of,
    env_file_of,
    errors_handled,
    fail,
    outcome_line,
)
from aiops.streams import print_json, printable

_config_dir = config_dir_of


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _ask_decision() -> str:
    choices = {"a": "APPROVE", "approve": "APPROVE", "r": "REJECT", "reject": "REJECT"}
    while True:
        answer = typer.prompt("Decision [approve/reject]", err=True).strip().lower()
        if answer in choices:
            return choices[answer]
        print("aiops: please answer approve or reject", file=sys.stderr)


@errors_handled
def review_cmd(
    ctx: typer.Context,
    pack: Annotated[
        str | None,
        typer.Argument(
            metavar="[PACK]",
            help=PACK_HELP + " Default: the newest live pack without a review.",
            show_default=False,
        ),
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve without asking.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject without asking.")] = False,
    notes: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Review notes (asked for when interactive)."),
    ] = None,
    reviewer: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Reviewer name (default: $USER).", show_default=False),
    ] = None,
) -> None:
    """Show a pack to the operator and record the decision in review.json beside it
    (signed in review.dsse.json when AIOPS_SIGNING_KEY is set). The screen holds every
    output, the verdicts and why, and the verification state. Exit 1 when no PACK is
    given and no live pack is left without a review."""
    if approve and reject:
        fail("choose one of --approve and --reject")
    decision = "APPROVE" if approve else "REJECT" if reject else None
    if decision is None and not _stdin_is_tty():
        fail("no terminal to ask on: pass --approve or --reject (and --notes)")
    from aiops.console_review import render_review_pack, render_review_recorded
    from aiops.services.pack_ref import resolve_pack
    from aiops.services.review import (
        NothingToReview,
        default_reviewer,
        finish_review,
        next_due,
        start_review,
    )
    from aiops.settings import Settings, settings_for_run

    settings = settings_for_run(env_file_of(ctx)) or Settings()
    name = default_reviewer(reviewer)
    if pack is None:
        try:
            path = next_due(settings.packs_dir)
        except NothingToReview as nothing:
            outcome_line(nothing.message, 1)
    else:
        path = resolve_pack(pack, lambda: settings.packs_dir)
    session = start_review(path, signing_key=settings.signing_key)
    render_review_pack(session)
    interactive = decision is None  # decided at the prompt, the pack on screen
    if decision is None:
        try:
            decision = _ask_decision()
            if notes is None:
                notes = typer.prompt("Notes", default="", show_default=False, err=True)
        except typer.Abort:  # end of input or Ctrl-C at a prompt
            print(file=sys.stderr)  # end the prompt's line
            fail("aborted: nothing was recorded")
    recorded = finish_review(
        session,
        decision,  # type: ignore[arg-type]
        notes or "",
        name,
        interactive=interactive,
    )
    render_review_recorded(recorded)


pilot_app = typer.Typer(
    cls=AiopsGroup,
    no_args_is_help=True,
    help="The 30-day pilot: drift and KPIs.",
    rich_markup_mode=None,
)


@pilot_app.command("drift")
@errors_handled
def pilot_drift_cmd(
    ctx: typer.Context,
    baseline: Annotated[
        str, typer.Argument(metavar="BASELINE", help="The baseline pack (day 1). " + PACK_HELP)
    ],
    current: Annotated[str, typer.Argument(metavar="CURRENT", help="The pack to compare with it.")],
    as_json: JsonOption = False,
) -> None:
    """Token and structural drift of CURRENT against BASELINE. Exit 1 when flagged."""
    from aiops.services.pack_ref import resolve_pack
    from aiops.services.pilot_drift import pilot_drift
    from aiops.settings import Settings, settings_for_run

    # A pack id or ``latest`` is looked up in AIOPS_PACKS_DIR, from --env-file too.
    settings = settings_for_run(env_file_of(ctx)) or Settings()

    def ledger() -> Path:
        return settings.packs_dir

    result = pilot_drift(resolve_pack(baseline, ledger), resolve_pack(current, ledger))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from aiops.console_pilot import render_drift

        render_drift(result)
    if result.flagged:
        outcome_line(
            f"drift flagged: {result.token_drift_pct:.2f} % is above the "
            f"{result.threshold_pct:g} % threshold ({result.current_pack_id} "
            f"vs baseline {result.baseline_pack_id})",
            1,
        )


@pilot_app.command("report")
@errors_handled
def pilot_report_cmd(
    ctx: typer.Context,
    ledger: Annotated[
        Path | None,
        typer.Argument(
            metavar="LEDGER",
            help="Ledger directory (default: AIOPS_PACKS_DIR or ./evidence_packs).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Only packs created on or after this date (YYYY-MM-DD)."),
    ] = None,
    as_json: JsonOption = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML report."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            metavar="FILE",
            help="Trusted Ed25519 public key (PEM): only packs and reviews signed by it "
            "count (default: the public half of AIOPS_SIGNING_KEY, if set).",
            show_default=False,
        ),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            metavar="MODE",
            help="Count packs of this mode (live, record, replay, dry-run; repeatable; "
            "default: live).",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="PACK",
            help="Drift baseline (default: the first COMPLETED pack).",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Verify every pack now (default: a pack unchanged since it verified "
            "earlier is taken from the per-user cache).",
        ),
    ] = False,
) -> None:
    """The pilot KPIs over a ledger. Exit 1 when a KPI fails (no data yet is not a
    failure)."""
    from datetime import date

    from aiops.services.pack_ref import resolve_pack
    from aiops.services.pilot_report import ReportOptions, pilot_report
    from aiops.settings import Settings, settings_for_run

    settings = settings_for_run(env_file_of(ctx)) or Settings()
    try:
        since_day = date.fromisoformat(since) if since is not None else None
    except ValueError:
        fail(f"--since must be a date YYYY-MM-DD, got {since!r}")
    modes = frozenset(mode or ["live"])
    unknown = sorted(modes - {"live", "record", "replay", "dry-run"})
    if unknown:
        fail(f"--mode must be live, record, replay or dry-run, got {unknown[0]!r}")
    report = pilot_report(
        ReportOptions(
            ledger=ledger,
            since=since_day,
            config_dir=_config_dir(ctx),
            key=key,
            modes=modes,
            baseline=resolve_pack(baseline, lambda: settings.packs_dir) if baseline else None,
            use_cache=not no_cache,
        ),
        settings,
    )
    if html is not None:
        from aiops.reporting.html import write_html

        write_html(report, html)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        from aiops.console_pilot import render_pilot_report

        render_pilot_report(report)
    if html is not None:
        print(f"aiops: wrote {printable(str(html))}", file=sys.stderr)
    if not report.all_pass:
        failing = ", ".join(f"{k.name} {k.status}" for k in report.kpis if k.status == "FAIL")
        outcome_line(f"pilot KPIs not met: {failing}", 1)


def register(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
    app.add_typer(pilot_app, name="pilot")
