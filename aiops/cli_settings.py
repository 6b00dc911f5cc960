"""``aiops settings``: the effective settings and where each came from.

Like ``aiops.cli``, only typer and the standard library load at module level.
"""

import typer

from aiops.cli_inventory import JsonOption
from aiops.cli_support import config_dir_of, env_file_of, errors_handled
from aiops.streams import print_json


@errors_handled
def settings_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the effective settings and their sources (command line, environment, env
    file, default) and where each provider key was found; never a key's value."""
    from aiops.services.settings_view import effective_settings

    root = ctx.find_root()
    source = root.get_parameter_source("config_dir")
    given = getattr(source, "name", "") == "COMMANDLINE"
    result = effective_settings(
        env_file_of(ctx), config_dir_of(ctx), "command line" if given else None
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    from aiops.console_settings import render_settings

    render_settings(result)


def register(app: typer.Typer) -> None:
    app.command("settings")(settings_cmd)
