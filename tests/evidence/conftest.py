"""Packs and keys for the verifier's tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.sign import load_private_key, make_sealer
from aiops.services.keys import KeyPair, generate
from tests.evidence.builders import model_pack


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A valid, unsigned model-run pack (COMPLETED, with transcript)."""
    return model_pack(tmp_path / "packs" / "pack")


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return generate(tmp_path / "keys")


@pytest.fixture
def other_keys(tmp_path: Path) -> KeyPair:
    return generate(tmp_path / "other-keys")


@pytest.fixture
def signed(tmp_path: Path, keys: KeyPair) -> Path:
    """A valid model-run pack signed with ``keys``."""
    seal = make_sealer(load_private_key(keys.private_path))
    return model_pack(tmp_path / "packs" / "signed", seal=seal)


Verify = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def verify_json() -> Verify:
    """Run ``aiops verify-pack PATH --json ARGS``; return the exit code and the report."""

    def run(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(app, ["verify-pack", str(path), "--json", *args])
        assert result.exit_code in (0, 1), result.stderr
        return result.exit_code, json.loads(result.stdout)

    return run


def statuses(report: dict[str, Any], pack: int = 0) -> dict[str, str]:
    return {f["name"]: f["status"] for f in report["packs"][pack]["files"]}


def messages(report: dict[str, Any], check: str | None = None) -> list[str]:
    found = [f for p in report["packs"] for f in p["findings"]] + report["findings"]
    return [f["message"] for f in found if check is None or f["check"] == check]
