"""Golden snapshots of the chained samples: the L3 pack built on the replayed L2 sample
and the L4 pack reviewing that L2 sample (parsed JSON and the operator report). Update
with ``pytest --snapshot-update`` after an intended change (regenerate the fixtures
first: ``python -m tests.support.make_chain_fixtures``), and read the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.cli import app
from tests.test_golden import PACK_JSON, MarkdownSnapshot


@pytest.fixture
def chained(runner: CliRunner) -> dict[str, Path]:
    """L2 replay, then L3 on it, then L4 on the L2 pack: the shipped samples, offline."""
    for args in (
        ["l2", "replay"],
        ["l3", "replay", "--input-pack", "latest"],
        ["l4", "replay", "--input-pack", "EVP-L2-2026-01-10-001"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stderr
    ledger = Path("evidence_packs")
    return {p.name[:2]: p for p in ledger.iterdir()}


@pytest.mark.parametrize("layer", ["L3", "L4"])
@pytest.mark.parametrize("name", PACK_JSON)
def test_chained_pack_file(
    layer: str, name: str, chained: dict[str, Path], snapshot: SnapshotAssertion
) -> None:
    data: Any = json.loads((chained[layer] / name).read_text())
    assert data == snapshot(extension_class=JSONSnapshotExtension)


@pytest.mark.parametrize("layer", ["L3", "L4"])
def test_chained_operator_output(
    layer: str, chained: dict[str, Path], snapshot: SnapshotAssertion
) -> None:
    text = (chained[layer] / "operator_output.md").read_text()
    assert text == snapshot(extension_class=MarkdownSnapshot)
