"""The Typer app. Commands parse options, call one service and render its result.

Start-up stays fast: only typer, the standard library, ``aiops.cli_support`` and
``aiops.errors`` are imported at module level; services, Pydantic, httpx and Rich load
inside the command that needs them.
"""

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aiops import __version__
from aiops.cli_audit import register as register_audit
from aiops.cli_inventory import JsonOption
from aiops.cli_inventory import register as register_inventory
from aiops.cli_pilot import register as register_pilot
from aiops.cli_runs import register as register_runs
from aiops.cli_settings import register as register_settings
from aiops.cli_support import (
    LAYER_HELP,
    LAYERS,
    AiopsGroup,
    config_dir_of,
    env_file_of,
    errors_handled,
    fail,
    lazy_typer,
    outcome_line,
    stop_cleanly_on_sigterm,
)
from aiops.streams import (
    closed_streams_on_devnull,
    output_streams_never_fail,
    print_json,
)

if TYPE_CHECKING:
    from aiops.services.network import NetworkPlan  # record and live only: not imported

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
InputPackOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input-pack",
        metavar="PACK",
        help="Evidence pack taken as input (repeatable): a path, a pack id, or 'latest' (the "
        "newest pack of a layer this one takes); verified before any call.",
        show_default=False,
    ),
]
InputLedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--input-ledger",
        metavar="DIR",
        help="Another ledger to take input packs from (default: this run's ledger).",
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
    input_packs: list[str] | None = None,
    input_ledger: Path | None = None,
    fixture: Path | None = None,
    allow_network: bool = False,
    yes: bool = False,
    force: bool = False,
    as_json: bool = False,
) -> None:
    from aiops.call_progress import call_progress
    from aiops.console import confirm_network
    from aiops.services.model_run import ModelRunOptions, run_model_layer
    from aiops.services.run_layer import RunOptions

    def confirm(plan: "NetworkPlan") -> None:
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
            input_packs=list(input_packs or []),
            input_ledger=input_ledger,
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
        input_pack: InputPackOption = None,
        input_ledger: InputLedgerOption = None,
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
            input_packs=input_pack,
            input_ledger=input_ledger,
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
        input_pack: InputPackOption = None,
        input_ledger: InputLedgerOption = None,
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
            input_packs=input_pack,
            input_ledger=input_ledger,
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
        input_pack: InputPackOption = None,
        input_ledger: InputLedgerOption = None,
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
            input_packs=input_pack,
            input_ledger=input_ledger,
            out=out,
            notes=notes,
            allow_network=allow_network,
            yes=yes,
            as_json=as_json,
        )


for _layer in LAYERS:  # each layer's commands are made when that layer is used
    app.add_typer(
        lazy_typer(functools.partial(_layer_app, _layer), LAYER_HELP[_layer]),
        name=_layer,
        help=LAYER_HELP[_layer],
    )

register_pilot(app)
register_audit(app)
register_inventory(app)
register_runs(app)
register_settings(app)


def main() -> None:
    closed_streams_on_devnull()
    output_streams_never_fail()
    stop_cleanly_on_sigterm()
    app()
