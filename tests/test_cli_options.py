"""The root options still work now that the help flag and --config-dir are converted
without Typer's Pydantic coercion (aiops.cli_support._Plain)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app


def test_config_dir_option_is_used(runner: CliRunner, config_copy: Path) -> None:
    result = runner.invoke(app, ["--config-dir", str(config_copy), "l2", "dry-run"])
    assert result.exit_code == 0, result.stderr


def test_config_dir_from_the_environment_is_used(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_CONFIG_DIR", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert "nowhere" in result.stderr
    assert "no model_registry.toml" in result.stderr


def test_help_flag_still_prints_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify-pack", "--help"])
    assert result.exit_code == 0
    assert "--checkpoint FILE" in result.stdout
    assert "--write-checkpoint FILE" in result.stdout


# --- one layout, one wording, for every command -------------------------------------


@pytest.mark.parametrize("group", [[], ["l2"], ["pilot"], ["keys"], ["config"]])
def test_a_group_without_its_subcommand_shows_its_help_and_exits_0(
    runner: CliRunner, group: list[str]
) -> None:
    result = runner.invoke(app, group)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: aiops")
    assert "Commands:" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ["verify-pack", "--help"],
        ["pilot", "drift", "--help"],
        ["pilot", "report", "--help"],
        ["l2", "replay", "--help"],
        ["review", "--help"],
        ["schema", "--help"],
    ],
)
def test_help_names_values_in_words(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "<" not in result.stdout and "{" not in result.stdout  # no <path>, {baseline}
    assert "Options:" in result.stdout


def test_verify_pack_has_the_common_layout(runner: CliRunner) -> None:
    shown = runner.invoke(app, ["verify-pack", "--help"]).stdout
    assert shown.startswith("Usage: aiops verify-pack [OPTIONS] PATH\n")
    assert "  -j, --json " in shown and "  --key FILE " in shown
    assert "  --checkpoint FILE " in shown and "  --write-checkpoint FILE " in shown


def test_a_far_guess_is_not_suggested_and_a_close_one_is(runner: CliRunner) -> None:
    far = runner.invoke(app, ["l2", "replay", "--bogus"])
    assert far.stderr == "aiops: error: unknown option --bogus (see 'aiops l2 replay --help')\n"
    close = runner.invoke(app, ["l2", "replay", "--ot", "x"])
    assert "did you mean --out?" in close.stderr


def test_an_unknown_subcommand_names_the_choices(runner: CliRunner) -> None:
    result = runner.invoke(app, ["pilot", "bogus"])
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: unknown command 'bogus' for 'aiops pilot': choose drift, report\n"
    )
    mode = runner.invoke(app, ["l2", "bogus"])
    assert "unknown mode 'bogus' for 'aiops l2': choose dry-run, replay, record, live" in (
        mode.stderr
    )


def test_short_flags_and_completion(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["-V"]).stdout.startswith("aiops ")
    result = runner.invoke(app, ["l2", "dry-run", "-o", "pack"])
    assert result.exit_code == 0 and (tmp_path / "pack" / "evidence_pack.json").is_file()
    assert runner.invoke(app, ["verify-pack", "pack", "-j"]).stdout.startswith("{")
    root = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in root and "--show-completion" in root


def test_layers_show_their_names_and_l5_l6_say_they_refuse(runner: CliRunner) -> None:
    root = runner.invoke(app, ["--help"]).stdout
    assert "l2           Layer L2 — Market Outlook." in root
    for layer in ("l5", "l6"):
        shown = runner.invoke(app, [layer, "--help"]).stdout
        assert "every mode refuses (exit 2)" in shown
        assert runner.invoke(app, [layer, "dry-run"]).exit_code == 2


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("aiops verify", "1", "verify-pack"), ("aiops l2 dry-run --pr", "3", "--primary")],
)
def test_shell_completion_completes_commands_and_options(
    tmp_path: Path, words: str, cword: str, expected: str
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_AIOPS_COMPLETE": "complete_bash", "COMP_WORDS": words}
    env["COMP_CWORD"] = cword
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['aiops']; from aiops.cli import main; main()",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.split()
