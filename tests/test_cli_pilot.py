"""``aiops pilot drift`` reads ``--env-file`` as ``review`` and ``pilot report`` do: a
pack id or ``latest`` is looked up in the env file's AIOPS_PACKS_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app


@pytest.fixture
def desk(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two replayed L2 packs in a ledger the environment does not name."""
    ledger = tmp_path / "desk-ledger"
    monkeypatch.setenv("AIOPS_PACKS_DIR", str(ledger))
    for _ in range(2):
        result = runner.invoke(app, ["l2", "replay"])
        assert result.exit_code == 0, result.output
    monkeypatch.delenv("AIOPS_PACKS_DIR")
    return ledger


@pytest.mark.parametrize("where", ["before", "after"])
def test_drift_finds_pack_ids_in_the_env_files_ledger(
    runner: CliRunner, desk: Path, tmp_path: Path, where: str
) -> None:
    env_file = tmp_path / "desk.env"
    env_file.write_text(f"AIOPS_PACKS_DIR={desk}\n", encoding="utf-8")
    refs = ["EVP-L2-2026-01-10-001", "latest", "--json"]
    option = ["--env-file", str(env_file)]
    argv = (
        [*option, "pilot", "drift", *refs]
        if where == "before"
        else ["pilot", "drift", *refs, *option]
    )
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    drift = json.loads(result.stdout)
    assert (drift["baseline_pack_id"], drift["current_pack_id"]) == (
        "EVP-L2-2026-01-10-001",
        "EVP-L2-2026-01-10-002",
    )
    assert (drift["token_drift_pct"], drift["flagged"]) == (0.0, False)


def test_drift_without_the_env_file_does_not_see_that_ledger(runner: CliRunner, desk: Path) -> None:
    result = runner.invoke(app, ["pilot", "drift", "EVP-L2-2026-01-10-001", "latest"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: no evidence packs in ")
    assert str(desk) not in result.stderr


def test_drift_with_a_missing_env_file_is_one_error_line(
    runner: CliRunner, desk: Path, tmp_path: Path
) -> None:
    packs = sorted(str(p) for p in desk.iterdir() if p.is_dir())
    missing = tmp_path / "none.env"
    result = runner.invoke(app, ["pilot", "drift", *packs, "--env-file", str(missing)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: ") and "none.env" in result.stderr
    assert result.stderr.count("\n") == 1
