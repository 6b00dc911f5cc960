"""Golden snapshots of the web-research samples: the L1 Deep Research replay (run from
any directory with no --fixture and no --input) and the L2 web variant. Update with
``pytest --snapshot-update`` after an intended change, and read the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.cli import app
from aiops.resources import fixtures_dir
from tests.services.packs import only_pack
from tests.test_golden import MarkdownSnapshot

PACK_JSON = [
    "evidence_pack.json",
    "run_manifest.json",
    "proposer_output.json",
    "critic_output.json",
    "capability_scope_check.json",
    "web_sources.json",
]
WEB_FIXTURE = fixtures_dir() / "transcripts" / "l2_market_outlook_web_sample.json"


@pytest.fixture
def l1_pack(runner: CliRunner) -> Path:
    result = runner.invoke(app, ["l1", "replay"])
    assert result.exit_code == 0, result.stderr
    assert "Outputs       ResearchBrief, UncertaintyAssessment" in result.stdout
    assert "fallback deepseek-r1 cannot use the web_search tool" in result.stderr
    return only_pack()


@pytest.fixture
def l2_web_pack(runner: CliRunner) -> Path:
    result = runner.invoke(app, ["l2", "replay", "--fixture", str(WEB_FIXTURE)])
    assert result.exit_code == 0, result.stderr
    return only_pack()


@pytest.mark.parametrize("name", PACK_JSON)
def test_l1_replay_pack_file(name: str, l1_pack: Path, snapshot: SnapshotAssertion) -> None:
    data: Any = json.loads((l1_pack / name).read_text())
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_l1_operator_output(l1_pack: Path, snapshot: SnapshotAssertion) -> None:
    assert (l1_pack / "operator_output.md").read_text() == snapshot(
        extension_class=MarkdownSnapshot
    )


@pytest.mark.parametrize("name", PACK_JSON)
def test_l2_web_replay_pack_file(name: str, l2_web_pack: Path, snapshot: SnapshotAssertion) -> None:
    data: Any = json.loads((l2_web_pack / name).read_text())
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_l2_web_operator_output(l2_web_pack: Path, snapshot: SnapshotAssertion) -> None:
    assert (l2_web_pack / "operator_output.md").read_text() == snapshot(
        extension_class=MarkdownSnapshot
    )


def test_l1_replay_verifies_and_enforces_citations(runner: CliRunner, l1_pack: Path) -> None:
    scope = json.loads((l1_pack / "capability_scope_check.json").read_text())
    checks = {c["name"]: c["passed"] for c in scope["checks"]}
    assert checks["output.citations"] is True and checks["web.sources_in_allow_list"] is True
    verified = runner.invoke(app, ["verify-pack", str(l1_pack)])
    assert verified.exit_code == 0, verified.stdout
