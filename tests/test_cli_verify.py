"""``aiops verify-pack``, ``aiops keys`` and ``aiops schema`` through the CLI: exit code,
stdout and stderr asserted separately."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.cli import app
from aiops.services.review import finish_review, start_review


@pytest.fixture
def dry(runner: CliRunner) -> Path:
    result = runner.invoke(app, ["l2", "dry-run", "--out", "pack"])
    assert result.exit_code == 0, result.stderr
    return Path("pack")


def test_verified_pack_prints_a_table_and_exits_0(runner: CliRunner, dry: Path) -> None:
    result = runner.invoke(app, ["verify-pack", str(dry)])
    assert result.exit_code == 0
    assert result.stderr == ""
    for name in ("evidence_pack.json", "run_manifest.json", "sod_check.json"):
        assert name in result.stdout
    assert "Signature: UNSIGNED" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == (
        "VERIFIED — 1 pack · integrity passed · completeness passed · consistency passed · "
        "hash chain not applicable · signatures NOT SIGNED · truncation not applicable · "
        "reviews none"
    )


def test_not_verified_lists_every_failure_and_one_error_line(runner: CliRunner, dry: Path) -> None:
    (dry / "sod_check.json").unlink()
    (dry / "notes.txt").write_text("x")
    (dry / "operator_output.md").write_text("changed")
    result = runner.invoke(app, ["verify-pack", str(dry)])
    assert result.exit_code == 1
    for status in ("MISSING", "EXTRA", "MISMATCH"):
        assert status in result.stdout
    assert "NOT VERIFIED" in result.stdout
    assert result.stderr == "aiops: pack: NOT VERIFIED (3 file problems, 0 findings)\n"


def test_markup_and_control_characters_in_names_reach_the_terminal_inert(
    runner: CliRunner, dry: Path
) -> None:
    (dry / "[red]boom").write_text("x")
    (dry / "esc\x1b[2Jape").write_text("x")
    result = runner.invoke(app, ["verify-pack", str(dry)])
    assert result.exit_code == 1
    assert "[red]boom" in result.stdout
    assert "\x1b" not in result.stdout
    assert "esc\\x1b[2Jape" in result.stdout


def test_json_report_matches_the_golden_snapshot(
    runner: CliRunner, dry: Path, snapshot: SnapshotAssertion
) -> None:
    result = runner.invoke(app, ["verify-pack", str(dry), "--json"])
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.endswith("}\n")
    report = json.loads(result.stdout)
    assert list(report) == sorted(report)  # stable, sorted keys
    assert report == snapshot(extension_class=JSONSnapshotExtension)


def test_json_on_failure_still_prints_the_report(runner: CliRunner, dry: Path) -> None:
    (dry / "sod_check.json").write_text("{}")
    result = runner.invoke(app, ["verify-pack", str(dry), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verified"] is False
    assert result.stderr.startswith("aiops: pack: NOT VERIFIED")


def test_a_ledger_prints_one_row_per_pack(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_PACKS_DIR", "ledger")
    for _ in range(3):
        assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    result = runner.invoke(app, ["verify-pack", "ledger"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.count("L2_MARKET_OUTLOOK_2026-01-10_00") == 3
    assert "VERIFIED — 3 packs" in result.stdout


def test_a_narrow_terminal_shows_whole_pack_ids(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_PACKS_DIR", "ledger")
    assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    monkeypatch.setenv("TERMINAL_WIDTH", "80")
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["verify-pack", "ledger"])
    assert result.exit_code == 0, result.stdout
    assert "\u2026" not in result.stdout  # an id cut short cannot be checked by an auditor
    pack_id = json.loads(next(Path("ledger").glob("*/evidence_pack.json")).read_bytes())[
        "evidence_pack_id"
    ]
    cells = [
        line.split("\u2502")[3].strip()
        for line in result.stdout.splitlines()
        if line.count("\u2502") == 7
    ]
    assert "".join(cells) == pack_id


@pytest.mark.parametrize(
    ("setup", "phrase"),
    [
        (lambda: None, "No such file or directory"),
        (lambda: Path("target").write_text("x"), "is not a directory"),
        (lambda: Path("target").mkdir(), "neither a pack"),
        (lambda: (Path("target") / ".tmp-x").mkdir(parents=True), "neither a pack"),
    ],
    ids=["missing", "file", "empty-dir", "only-staging"],
)
def test_not_a_pack_is_exit_2(runner: CliRunner, setup: Callable[[], object], phrase: str) -> None:
    setup()
    result = runner.invoke(app, ["verify-pack", "target"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: ") and phrase in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_missing_argument_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify-pack"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "name",
    [
        "evidence-pack",
        "run-manifest",
        "sod-check",
        "capability-scope-check",
        "proposer-output",
        "critic-output",
        "transcript",
        "review",
        "signature-envelope",
    ],
)
def test_schema_prints_json_schema(runner: CliRunner, name: str) -> None:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0
    assert result.stderr == ""
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


def test_schema_unknown_name_is_exit_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema", "nope"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "evidence-pack" in result.stderr


@pytest.mark.parametrize("reviewed", [False, True], ids=["pack", "reviewed-pack"])
def test_verify_pack_loads_no_pydantic_settings_http_or_crypto(
    tmp_path: Path, dry: Path, reviewed: bool
) -> None:
    """Start-up stays fast: the verify path checks shape from generated JSON Schemas
    instead of building the Pydantic models, parses its own options (Typer coerces
    declared parameters through Pydantic), and needs neither settings, HTTP nor
    (without --key) cryptography. Checking a review sidecar changes none of that."""
    if reviewed:
        session = start_review(tmp_path / dry)
        finish_review(session, "APPROVE", "checked", "operator-a")
    code = (
        "import sys\n"
        "from aiops.cli import app\n"
        "try:\n"
        f"    app(['verify-pack', {str(tmp_path / dry)!r}, '--json'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = ('aiops.schemas.pack', 'aiops.schemas.manifest', 'aiops.settings',\n"
        "         'pydantic', 'typer._adapters', 'pydantic_settings', 'httpx', 'cryptography',\n"
        "         'dotenv', 'aiops.env_settings')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr.strip() == "[]"


def test_a_pack_whose_name_starts_with_a_dash_after_double_dash(runner: CliRunner) -> None:
    assert runner.invoke(app, ["l2", "dry-run", "--out", "-2026-pack"]).exit_code == 0
    result = runner.invoke(app, ["verify-pack", "--json", "--", "-2026-pack"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kind"] == "pack"
    as_option = runner.invoke(app, ["verify-pack", "-2026-pack"])
    assert as_option.exit_code == 2  # without "--" it is an option, as everywhere
