"""The CLI contract: help, version, layer names, and one test per dry-run exit code.

Exit codes 1 (critic rejected) and 4 (provider failure) come from model runs and are
tested with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aiops import __version__
from aiops.cli import app
from tests.test_configuration import edit


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"aiops {__version__}\n"


@pytest.mark.parametrize("args", [[], ["l2"], ["L2"], ["--help"]])
def test_no_command_shows_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "Usage: aiops" in result.stdout
    assert result.stderr == ""


def test_help_snapshot(runner: CliRunner, snapshot: object) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert result.stdout == snapshot


def test_l2_help_lists_modes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "--help"])
    assert result.exit_code == 0
    assert "dry-run" in result.stdout


@pytest.mark.parametrize("layer", ["l2", "L2"])
def test_dry_run_exit_0_writes_pack(runner: CliRunner, tmp_path: Path, layer: str) -> None:
    result = runner.invoke(app, [layer, "dry-run", "--out", "out/L2_dry_run"])
    assert result.exit_code == 0, result.stderr
    assert "SoD" in result.stdout and "PASS" in result.stdout
    assert "COMPLETED" in result.stdout
    pack = tmp_path / "out" / "L2_dry_run"
    assert sorted(p.name for p in pack.iterdir()) == [
        "capability_scope_check.json",
        "evidence_pack.json",
        "operator_output.md",
        "run_manifest.json",
        "sod_check.json",
    ]


def test_default_pack_location_is_the_ledger_with_next_sequence(
    runner: CliRunner, tmp_path: Path
) -> None:
    for _ in range(2):
        assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "evidence_packs").iterdir())
    assert names == ["L2_MARKET_OUTLOOK_2026-01-10_001", "L2_MARKET_OUTLOOK_2026-01-10_002"]


def test_packs_dir_from_environment(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["l0", "dry-run"], env={"AIOPS_PACKS_DIR": "elsewhere"})
    assert result.exit_code == 0
    assert (tmp_path / "elsewhere" / "L0_OPS_DOCS_2026-01-10_001").is_dir()


def _assert_refused(result: Result, tmp_path: Path, fragment: str, before: set[str]) -> None:
    assert result.exit_code == 2
    stderr = result.stderr
    assert stderr.count("\n") == 1 and stderr.startswith("aiops: error: "), stderr
    assert fragment in stderr
    assert "Traceback" not in stderr
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["l7", "dry-run"], "unknown layer or command 'l7'"),
        (["x", "dry-run"], "unknown layer or command 'x'"),
        (["l2", "explode"], "unknown mode 'explode'"),
        (["l6", "dry-run"], "execution is forbidden"),
        (["l5", "dry-run"], "deterministic code only"),
        (["l2", "dry-run", "--primary", "nope"], "unknown proposer model 'nope'"),
        (["l2", "dry-run", "--critic", "gpt-5.2-pro"], "SoD FAIL"),
        (["l2", "dry-run", "--primary", "deepseek-chat"], "retired on 2026-07-24"),
    ],
)
def test_refusals_exit_2_with_one_line_and_write_nothing(
    runner: CliRunner, tmp_path: Path, args: list[str], fragment: str
) -> None:
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, args)
    _assert_refused(result, tmp_path, fragment, before)


def test_non_production_model_is_refused(
    runner: CliRunner, tmp_path: Path, config_copy: Path
) -> None:
    edit(
        config_copy / "model_registry.toml",
        'rate_limit_rpm = 500\nstatus = "production"\nreasoning = true\nnotes = "Responses',
        'rate_limit_rpm = 500\nstatus = "preview"\nreasoning = true\nnotes = "Responses',
    )
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, ["--config-dir", str(config_copy), "l2", "dry-run"])
    _assert_refused(result, tmp_path, "status 'preview', not 'production'", before)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("[layer_mapping.L0]", "[layer_mapping.L0", "malformed TOML"),
        (
            'owner = "ops"\n\n# ---',
            'owner = "ops"\nowner_typo = 1\n\n# ---',
            "registry.owner_typo: unknown key",
        ),
        ('critic = "o3"\n', 'critic = "o3x"\n', "unknown model 'o3x'"),
        ("cost_per_1k_input = 0.021", 'cost_per_1k_input = "cheap"', "cost_per_1k_input"),
    ],
)
def test_config_errors_exit_2_via_env(
    runner: CliRunner, tmp_path: Path, config_copy: Path, old: str, new: str, fragment: str
) -> None:
    edit(config_copy / "model_registry.toml", old, new)
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, ["l2", "dry-run"], env={"AIOPS_CONFIG_DIR": str(config_copy)})
    _assert_refused(result, tmp_path, fragment, before)
    assert "model_registry.toml" in result.stderr


def test_out_existing_non_empty_dir_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "evidence.txt").write_text("keep")
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, ["l2", "dry-run", "--out", "taken"])
    _assert_refused(result, tmp_path, "is not empty; evidence is never overwritten", before)


def test_out_existing_file_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("keep")
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, ["l2", "dry-run", "--out", "afile"])
    _assert_refused(result, tmp_path, "exists and is not a directory", before)


def test_unwritable_output_location_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("keep")
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    result = runner.invoke(app, ["l2", "dry-run", "--out", "afile/sub/pack"])
    _assert_refused(result, tmp_path, "cannot create afile/sub", before)


def test_unexpected_error_exits_3_with_traceback(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiops.services.run_layer as service

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(service, "dry_run", boom)
    result = runner.invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "RuntimeError: unexpected" in result.stderr
    assert result.stdout == ""


def test_cli_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, aiops.cli; "
        "heavy = ['httpx', 'pydantic', 'pydantic_settings', 'rich', 'aiops.services', "
        "'aiops.services.run_layer', 'aiops.configuration', 'cryptography']; "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_notes_are_recorded(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "l0",
            "dry-run",
            "--primary",
            "gpt-5.2",
            "--critic",
            "deepseek-r1",
            "--out",
            "out/L0_dry_run",
            "--notes",
            "Testing L0 orchestration",
        ],
    )
    assert result.exit_code == 0
    manifest = json.loads((tmp_path / "out/L0_dry_run/run_manifest.json").read_text())
    assert manifest["operator_notes"] == "Testing L0 orchestration"
    assert (
        "Testing L0 orchestration" in (tmp_path / "out/L0_dry_run/operator_output.md").read_text()
    )


def test_markup_in_the_pack_path_is_printed_as_text(runner: CliRunner, tmp_path: Path) -> None:
    """A path is not Rich markup: '[/x]' in --out must not crash the summary (exit 3)
    after the pack was written."""
    result = runner.invoke(app, ["l2", "dry-run", "--out", "out/[/x]"])
    assert result.exit_code == 0, result.stderr
    assert "Artifacts in out/[/x]" in result.stdout
    assert (tmp_path / "out" / "[" / "x]" / "evidence_pack.json").is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["l2", "dry-run", "--bogus"], "unknown option --bogus (see"),
        (["l2", "dry-run", "--out"], "option '--out' requires an argument"),
        (["pilot", "drift"], "missing argument 'BASELINE'"),
        (["verify-pack"], "missing argument 'PATH'"),
        (["verify-pack", "x", "--bogus"], "unknown option --bogus (see"),
    ],
)
def test_parser_refusals_are_one_line_and_exit_2(
    runner: CliRunner, args: list[str], fragment: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: ") and result.stderr.count("\n") == 1
    assert fragment in result.stderr
    assert result.stdout == ""
