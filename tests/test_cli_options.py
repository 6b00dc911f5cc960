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
