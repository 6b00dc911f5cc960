"""The CLI's start-up work: a run makes only its own layer's commands; help, errors
and completion still see every layer's."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from aiops.cli import app
from aiops.cli_support import LAYERS


def test_a_layer_makes_its_commands_only_when_it_is_used() -> None:
    root = typer.main.get_command(app)
    ctx = root.make_context("aiops", ["l2", "--help"], resilient_parsing=True)
    layers = {name: root.get_command(ctx, name) for name in LAYERS}  # type: ignore[attr-defined]
    assert all(not group.commands for group in layers.values())
    assert layers["l2"].list_commands(ctx) == ["dry-run", "replay", "record", "live"]
    assert [name for name, group in layers.items() if group.commands] == ["l2"]


def test_every_layer_lists_its_modes_in_help(runner: CliRunner) -> None:
    for layer in LAYERS:
        result = runner.invoke(app, [layer, "--help"])
        assert result.exit_code == 0, result.output
        assert "dry-run" in result.stdout and "live" in result.stdout, layer


def test_an_unknown_mode_of_a_layer_not_yet_made_names_the_modes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l4", "bogus"])
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: unknown mode 'bogus' for 'aiops l4': choose dry-run, replay, record, live\n"
    )
