"""Shared fixtures: a fixed clock, a fixed terminal, an isolated working directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.resources import default_config_dir

FIXED_EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00, the seeds' example time
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test runs in its own empty directory with a fixed clock and terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
    monkeypatch.setenv("TERMINAL_WIDTH", "100")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in (
        "AIOPS_CONFIG_DIR",
        "AIOPS_PACKS_DIR",
        "AIOPS_SIGNING_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DEEPSEEK_API_KEY",
        "DEEPSEEK_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration, for tests that break it."""
    target = tmp_path / "cfg"
    shutil.copytree(default_config_dir(), target)
    return target
