"""Golden snapshots of the replay of the shipped sample: the pack (parsed JSON), the
operator report and the Rich summary. Update with ``pytest --snapshot-update`` after
an intended change, and read the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from typer.testing import CliRunner

from aiops.cli import app
from tests.services.packs import only_pack


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class MarkdownSnapshot(TextSnapshot):
    file_extension = "md"


@pytest.fixture
def replayed(runner: CliRunner) -> tuple[Path, str]:
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.stderr
    return only_pack(), result.stdout


PACK_JSON = [
    "evidence_pack.json",
    "run_manifest.json",
    "proposer_output.json",
    "critic_output.json",
    "sod_check.json",
    "capability_scope_check.json",
]


@pytest.mark.parametrize("name", PACK_JSON)
def test_replay_pack_file(
    name: str, replayed: tuple[Path, str], snapshot: SnapshotAssertion
) -> None:
    pack, _ = replayed
    data: Any = json.loads((pack / name).read_text())
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_operator_output(replayed: tuple[Path, str], snapshot: SnapshotAssertion) -> None:
    pack, _ = replayed
    assert (pack / "operator_output.md").read_text() == snapshot(extension_class=MarkdownSnapshot)


def test_rich_summary(replayed: tuple[Path, str], snapshot: SnapshotAssertion) -> None:
    _, stdout = replayed
    assert stdout == snapshot(extension_class=TextSnapshot)
