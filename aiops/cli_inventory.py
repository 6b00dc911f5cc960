"""Commands that show the effective configuration: ``config check``, ``models``,
``layers``.

Like ``aiops.cli``, only typer and the standard library load at module level.
``--config-dir`` is the root's global option: it may be written before or after the
command (``aiops config check --config-dir DIR``).
"""

from typing import Annotated

import typer

from aiops.cli_support import AiopsGroup, config_dir_of, errors_handled, fail
from aiops.streams import print_json

JsonOption = Annotated[
    bool, typer.Option("--json", "-j", help="Print the result as JSON (with its format).")
]

config_app = typer.Typer(
    cls=AiopsGroup,
    no_args_is_help=True,
    help="Check the configuration (registry, capability scopes, prompt sets).",
    rich_markup_mode=None,
)


@config_app.command("check")
@errors_handled
def config_check_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Validate the registry, every capability scope and every prompt set, and list
    every problem with its file, key path and reason. Exit 0 valid, 2 not valid."""
    from aiops.services.inventory import config_check
    from aiops.wording import counted

    check = config_check(config_dir_of(ctx))
    if as_json:
        print_json(check.model_dump(mode="json"))
    else:
        from aiops.console_inventory import render_config_check

        render_config_check(check)
    if not check.ok:
        fail(f"{counted(len(check.problems), 'problem')} in the configuration")


def models_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the registry's models: id, provider, endpoint, status, retirement, prices."""
    from aiops.services.inventory import models

    result = models(config_dir_of(ctx))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from aiops.console_inventory import render_models

        render_models(result)


def layers_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the layers: name, autonomy, what runs (models, dry-run only, never), models
    and prompt set."""
    from aiops.services.inventory import layers

    result = layers(config_dir_of(ctx))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from aiops.console_inventory import render_layers

        render_layers(result)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.command("models")(errors_handled(models_cmd))
    app.command("layers")(errors_handled(layers_cmd))
