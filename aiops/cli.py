"""The Typer app. Commands parse options, call one service and render its result.

Start-up stays fast: only typer, the standard library, ``aiops.cli_support`` and
``aiops.errors`` are imported at module level; services, Pydantic, httpx and Rich load
inside the command that needs them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aiops import __version__
from aiops.cli_inventory import JsonOption
from aiops.cli_inventory import register as register_inventory
from aiops.cli_runs import PACK_HELP, pack_path
from aiops.cli_runs import register as register_runs
from aiops.cli_settings import register as register_settings
from aiops.cli_support import (
    LAYER_HELP,
    LAYERS,
    AiopsGroup,
    VerifyPackCommand,
    config_dir_of,
    env_file_of,
    errors_handled,
    fail,
    outcome_line,
    stop_cleanly_on_sigterm,
)
from aiops.streams import (
    closed_streams_on_devnull,
    output_streams_never_fail,
    print_json,
    printable,
)

app = typer.Typer(
    cls=AiopsGroup,
    name="aiops",
    help="Run LLM layers under governance controls and leave evidence an auditor can verify.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"aiops {__version__}")
        raise typer.Exit()


ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        envvar="AIOPS_CONFIG_DIR",
        metavar="DIR",
        help="Directory holding model_registry.toml and capability_scopes/ "
        "(before or after the command).",
        show_default=False,
    ),
]


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    config_dir: ConfigDirOption = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            envvar="AIOPS_ENV_FILE",
            metavar="FILE",
            help="Env file with AIOPS_* settings and provider keys; never read unless "
            "named (before or after the command).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run LLM layers under governance controls and leave evidence an auditor can verify."""
    ctx.obj = {"config_dir": config_dir, "env_file": env_file}


_config_dir = config_dir_of


FixtureOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="Transcript fixture (replay: default the layer's shipped sample)."
    ),
]
InputOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--input",
        metavar="FILE",
        help="Input file (repeatable), checked against the capability scope "
        "(default: the layer's shipped sample input).",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", metavar="DIR", help="Pack directory to create; must not exist or be empty."
    ),
]
NotesOption = Annotated[
    str, typer.Option(metavar="TEXT", help="Operator notes recorded in the pack.")
]
AllowNetworkOption = Annotated[
    bool, typer.Option("--allow-network", help="Opt in to real model API calls.")
]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not wait for ENTER after the network warning."),
]


def _layer_app(layer: str) -> typer.Typer:
    sub = typer.Typer(
        cls=AiopsGroup,
        no_args_is_help=True,
        help=LAYER_HELP[layer],
        rich_markup_mode=None,
    )

    @sub.command("dry-run")
    @errors_handled
    def dry_run_cmd(
        ctx: typer.Context,
        primary: Annotated[
            str | None,
            typer.Option(metavar="ID", help="Proposer model id (default: the layer's primary)."),
        ] = None,
        critic: Annotated[
            str | None,
            typer.Option(metavar="ID", help="Critic model id (default: the layer's critic)."),
        ] = None,
        out: OutOption = None,
        notes: NotesOption = "",
        as_json: JsonOption = False,
    ) -> None:
        """Validate orchestration and governance without calling any model."""
        from aiops.services.run_layer import RunOptions, dry_run
        from aiops.settings import settings_for_run

        outcome = dry_run(
            RunOptions(
                layer=layer,
                mode="dry-run",
                primary=primary,
                critic=critic,
                out=out,
                notes=notes,
                config_dir=_config_dir(ctx),
            ),
            settings_for_run(env_file_of(ctx)),
        )
        _render_run(outcome, as_json)
        _finish_run(outcome)

    _add_model_modes(sub, layer)
    return sub


def _render_run(outcome: Any, as_json: bool = False) -> None:
    """The summary; when stdout cannot take it, the error names the pack, which exists.
    With ``--json`` the result is one JSON object on stdout and the summary goes to
    stderr."""
    from aiops.console import render_run
    from aiops.errors import OutputWriteError

    try:
        if as_json:
            from aiops.services.run_result import run_result

            print_json(run_result(outcome).model_dump(mode="json"))
        render_run(outcome, to_stderr=as_json)
    except OutputWriteError as error:
        raise OutputWriteError(
            f"{error.message} (the pack {outcome.pack_path} was written)"
        ) from None


def _finish_run(outcome: Any) -> None:
    """Exit 1 (the critic rejected) is the run's outcome, not an error; 2, 3 and 4 are."""
    if not outcome.exit_code:
        return
    message = outcome.reason or f"run {outcome.status}"
    if outcome.exit_code == 1:
        outcome_line(message, 1)
    fail(message, outcome.exit_code)


# --- Model modes: replay, record, live -------------------------------------------------


def _run_model_mode(
    ctx: typer.Context,
    layer: str,
    mode: str,
    *,
    inputs: list[Path] | None,
    out: Path | None,
    notes: str,
    fixture: Path | None = None,
    allow_network: bool = False,
    yes: bool = False,
    force: bool = False,
    as_json: bool = False,
) -> None:
    from aiops.call_progress import call_progress
    from aiops.console import confirm_network
    from aiops.services.model_run import ModelRunOptions, run_model_layer
    from aiops.services.network import NetworkPlan
    from aiops.services.run_layer import RunOptions

    def confirm(plan: NetworkPlan) -> None:
        from aiops.configuration import describe_location, locate_config

        confirm_network(plan, yes, describe_location(*locate_config(_config_dir(ctx))))

    outcome = run_model_layer(
        ModelRunOptions(
            run=RunOptions(
                layer=layer,
                mode=mode,  # type: ignore[arg-type]
                out=out,
                notes=notes,
                config_dir=_config_dir(ctx),
            ),
            inputs=list(inputs or []),
            fixture=fixture,
            allow_network=allow_network,
            force=force,
            progress=call_progress() if mode != "replay" else None,
            env_file=env_file_of(ctx),
        ),
        confirm,
    )
    _render_run(outcome, as_json)
    _finish_run(outcome)


def _add_model_modes(sub: typer.Typer, layer: str) -> None:
    @sub.command("replay")
    @errors_handled
    def replay_cmd(
        ctx: typer.Context,
        fixture: FixtureOption = None,
        input: InputOption = None,
        out: OutOption = None,
        notes: NotesOption = "",
        as_json: JsonOption = False,
    ) -> None:
        """Run from a recorded transcript: no network, no keys, deterministic."""
        _run_model_mode(
            ctx,
            layer,
            "replay",
            inputs=input,
            out=out,
            notes=notes,
            fixture=fixture,
            as_json=as_json,
        )

    @sub.command("record")
    @errors_handled
    def record_cmd(
        ctx: typer.Context,
        allow_network: AllowNetworkOption = False,
        fixture: Annotated[
            Path | None,
            typer.Option(metavar="FILE", help="Transcript fixture to write (required)."),
        ] = None,
        input: InputOption = None,
        out: OutOption = None,
        notes: NotesOption = "",
        yes: YesOption = False,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing fixture.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Call the real models and record the transcript as a replay fixture."""
        _run_model_mode(
            ctx,
            layer,
            "record",
            inputs=input,
            out=out,
            notes=notes,
            fixture=fixture,
            allow_network=allow_network,
            yes=yes,
            force=force,
            as_json=as_json,
        )

    @sub.command("live")
    @errors_handled
    def live_cmd(
        ctx: typer.Context,
        allow_network: AllowNetworkOption = False,
        input: InputOption = None,
        out: OutOption = None,
        notes: NotesOption = "",
        yes: YesOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Call the real models (the daily pilot run)."""
        _run_model_mode(
            ctx,
            layer,
            "live",
            inputs=input,
            out=out,
            notes=notes,
            allow_network=allow_network,
            yes=yes,
            as_json=as_json,
        )


for _layer in LAYERS:
    app.add_typer(_layer_app(_layer), name=_layer, help=LAYER_HELP[_layer])

# --- Pilot: operator review, drift and the KPI report --------------------------------


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _ask_decision() -> str:
    choices = {"a": "APPROVE", "approve": "APPROVE", "r": "REJECT", "reject": "REJECT"}
    while True:
        answer = typer.prompt("Decision [approve/reject]", err=True).strip().lower()
        if answer in choices:
            return choices[answer]
        print("aiops: please answer approve or reject", file=sys.stderr)


@app.command("review")
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
app.add_typer(pilot_app, name="pilot")


@pilot_app.command("drift")
@errors_handled
def pilot_drift_cmd(
    baseline: Annotated[
        str, typer.Argument(metavar="BASELINE", help="The baseline pack (day 1). " + PACK_HELP)
    ],
    current: Annotated[str, typer.Argument(metavar="CURRENT", help="The pack to compare with it.")],
    as_json: JsonOption = False,
) -> None:
    """Token and structural drift of CURRENT against BASELINE. Exit 1 when flagged."""
    from aiops.services.pilot_drift import pilot_drift

    result = pilot_drift(pack_path(baseline), pack_path(current))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from aiops.console import render_drift

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
        ),
        settings,
    )
    if html is not None:
        from aiops.reporting.html import write_html

        write_html(report, html)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        from aiops.console import render_pilot_report

        render_pilot_report(report)
    if html is not None:
        print(f"aiops: wrote {printable(str(html))}", file=sys.stderr)
    if not report.all_pass:
        failing = ", ".join(f"{k.name} {k.status}" for k in report.kpis if k.status == "FAIL")
        outcome_line(f"pilot KPIs not met: {failing}", 1)


# --- verify-pack, keys, schema: what an auditor runs ----------------------------------


@app.command("verify-pack", cls=VerifyPackCommand)
@errors_handled
def verify_pack_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="A pack directory, a ledger (a directory of packs), a pack id "
            "(EVP-L2-2026-01-10-001) or 'latest'.",
        ),
    ],
    as_json: JsonOption = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            metavar="FILE",
            help="Trusted Ed25519 public key (PEM); signatures of packs and reviews are "
            "checked only against it, never a key from the pack.",
            show_default=False,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Checkpoint kept from an earlier verification of this ledger: a truncated "
            "tail, a rewritten head or a deleted or altered review fails.",
            show_default=False,
        ),
    ] = None,
    write_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--write-checkpoint",
            metavar="FILE",
            help="After a verified ledger, write its checkpoint here.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify a pack or a ledger offline. Exit 0 verified, 1 not verified, 2 usage."""
    from aiops.services.verify_pack import VerifyOptions, verify

    path = pack_path(path)
    outcome = verify(VerifyOptions(path, key, checkpoint, write_checkpoint))
    if as_json:
        print_json(outcome.report.to_json())
    else:
        from aiops.console import render_verify

        render_verify(outcome.report, outcome.checkpoint_written)
    if outcome.exit_code:
        from aiops.wording import counted

        report = outcome.report
        outcome_line(
            f"{path}: NOT VERIFIED ({counted(report.failed_files, 'file problem')}, "
            f"{counted(len(report.errors), 'finding')})",
            outcome.exit_code,
        )


keys_app = typer.Typer(
    cls=AiopsGroup,
    no_args_is_help=True,
    help="Signing keys for evidence packs.",
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
@errors_handled
def keys_generate_cmd(
    out_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Directory for the key pair, created if needed (default: "
            "$XDG_CONFIG_HOME/aiops/keys or ~/.config/aiops/keys).",
            show_default=False,
        ),
    ] = None,
    allow_work_tree: Annotated[
        bool,
        typer.Option(
            "--allow-work-tree", help="Write the private key inside a git work tree anyway."
        ),
    ] = False,
) -> None:
    """Write an Ed25519 key pair: private key (mode 0600) and public key (PEM), outside
    any git work tree unless told otherwise."""
    from aiops.console import render_keys
    from aiops.services.keys import generate

    render_keys(generate(out_dir, allow_work_tree=allow_work_tree))


@app.command("schema")
@errors_handled
def schema_cmd(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="evidence-pack, run-manifest, sod-check, ...")
    ],
) -> None:
    """Print the JSON Schema of a pack file or config file, derived from the models."""
    from aiops.errors import UsageError
    from aiops.schemas.catalog import SCHEMAS, model_schema

    if name not in SCHEMAS:
        raise UsageError(f"unknown schema {name!r}: choose {', '.join(SCHEMAS)}")
    print_json(model_schema(name))


register_inventory(app)
register_runs(app)
register_settings(app)


def main() -> None:
    closed_streams_on_devnull()
    output_streams_never_fail()
    stop_cleanly_on_sigterm()
    app()
