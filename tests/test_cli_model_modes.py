"""The CLI stays thin and fast: model modes load their services lazily."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from aiops.cli import app

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_cli_loads_no_services_rich_pydantic_or_httpx() -> None:
    script = (
        "import sys, aiops.cli\n"
        "heavy = ('rich', 'pydantic', 'httpx', 'aiops.services', 'aiops.providers')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_layer_help_lists_every_mode(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "--help"])
    assert result.exit_code == 0
    for mode in ("dry-run", "replay", "record", "live"):
        assert mode in result.stdout


def test_record_help_documents_the_opt_in(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "record", "--help"])
    assert result.exit_code == 0
    for flag in ("--allow-network", "--fixture", "--input", "--out", "--yes", "--force"):
        assert flag in result.stdout


def test_record_without_fixture_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "record", "--allow-network", "--yes"])
    assert result.exit_code == 2
    assert "record needs --fixture FILE" in result.stderr


def test_unknown_mode(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "replai"])
    assert result.exit_code == 2 and "unknown mode 'replai'" in result.stderr


def test_replay_into_an_existing_pack_is_refused(runner: CliRunner) -> None:
    Path("taken").mkdir()
    Path("taken/evidence_pack.json").write_text("{}")
    result = runner.invoke(app, ["l2", "replay", "--out", "taken"])
    assert result.exit_code == 2 and "evidence is never overwritten" in result.stderr
