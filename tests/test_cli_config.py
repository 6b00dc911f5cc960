"""Global options anywhere on the line, the config directory named by every run, and
``aiops config check`` / ``models`` / ``layers``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.cli_support import hoist_global_options
from tests.conftest import FakeKeys
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path


def _break_registry(config: Path) -> None:
    """A registry written for an earlier framework: no [registry] table, a renamed key."""
    path = config / "model_registry.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[registry]", "[registry_info]", 1).replace("context_window", "context_size"),
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--config-dir", "CFG", "l2", "dry-run", "--out", "pack"],
        ["l2", "dry-run", "--config-dir", "CFG", "--out", "pack"],
        ["l2", "dry-run", "--out", "pack", "--config-dir=CFG"],
    ],
)
def test_config_dir_before_or_after_the_subcommand(
    runner: CliRunner, config_copy: Path, args: list[str]
) -> None:
    args = [a.replace("CFG", str(config_copy)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert f"Config      {config_copy} (--config-dir or AIOPS_CONFIG_DIR)" in result.stdout
    manifest = json.loads(Path("pack/run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["directory"] == str(config_copy)
    assert manifest["config"]["directory_source"] == "given"


def test_a_run_names_the_config_it_found_or_the_packaged_defaults(
    runner: CliRunner, config_copy: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["l2", "dry-run", "--out", "a"])
    assert result.exit_code == 0
    assert "Config      packaged defaults" in result.stdout
    manifest = json.loads(Path("a/run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["directory_source"] == "packaged"
    config_copy.rename(tmp_path / "config")  # ./config is picked up: say so
    result = runner.invoke(app, ["l2", "dry-run", "--out", "b"])
    assert result.exit_code == 0
    assert "Config      config (found in the working directory)" in result.stdout


def test_options_after_a_double_dash_stay_where_they_are() -> None:
    args = ["verify-pack", "--", "--config-dir", "x"]
    assert hoist_global_options(args) == args
    assert hoist_global_options(["l2", "replay", "--config-dir", "d", "--json"]) == [
        "--config-dir",
        "d",
        "l2",
        "replay",
        "--json",
    ]


def test_config_check_lists_every_problem_with_file_key_and_reason(
    runner: CliRunner, config_copy: Path
) -> None:
    assert runner.invoke(app, ["config", "check", "--config-dir", str(config_copy)]).exit_code == 0
    _break_registry(config_copy)
    result = runner.invoke(app, ["config", "check", "--config-dir", str(config_copy), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["format"] == {"name": "aiops-config-check", "version": 1}
    assert report["ok"] is False
    problems = report["problems"]
    assert report["problem_count"] == len(problems) > 20  # every model: two problems each
    registry = str(config_copy / "model_registry.toml")
    assert {"file": registry, "key_path": "registry", "reason": "required key is missing"} in (
        problems
    )
    assert {
        "file": registry,
        "key_path": "models.gpt-5.2.context_size",
        "reason": "unknown key (typo?)",
    } in problems
    assert result.stderr == f"aiops: error: {len(problems)} problems in the configuration\n"
    text = runner.invoke(app, ["config", "check", "--config-dir", str(config_copy)])
    assert text.exit_code == 2
    assert "models.gpt-5.2.context_size" in text.stdout
    assert f"... {len(problems) - 20} more problems (--json lists every one)" in text.stdout


def test_a_run_names_the_first_few_problems_and_how_to_see_the_rest(
    runner: CliRunner, config_copy: Path
) -> None:
    _break_registry(config_copy)
    result = runner.invoke(app, ["l2", "dry-run", "--config-dir", str(config_copy)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"aiops: error: invalid config {config_copy}/model_registry.toml: ")
    assert line.count("model_registry.toml: ") == 3
    assert line.endswith("more: aiops config check)")


def test_a_scope_problem_and_a_prompt_problem_are_both_listed(
    runner: CliRunner, config_copy: Path
) -> None:
    scope = config_copy / "capability_scopes" / "L2_market_outlook.toml"
    scope.write_text(scope.read_text(encoding="utf-8") + "\nbogus = 1\n", encoding="utf-8")
    prompt = config_copy / "prompts" / "l2_market_outlook.toml"
    prompt.write_text("not = [toml\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "-j", "--config-dir", str(config_copy)])
    assert result.exit_code == 2
    files = {p["file"] for p in json.loads(result.stdout)["problems"]}
    assert str(scope) in files and str(prompt) in files


def test_models_and_layers_list_the_effective_registry(runner: CliRunner) -> None:
    models = runner.invoke(app, ["models", "--json"])
    assert models.exit_code == 0, models.stderr
    data = json.loads(models.stdout)
    assert data["format"] == {"name": "aiops-models", "version": 1}
    by_id = {m["id"]: m for m in data["models"]}
    assert by_id["gpt-5.2-pro"]["endpoint"] == "responses"
    assert by_id["deepseek-chat"]["status"] == "retired"
    assert isinstance(by_id["gpt-5.2-pro"]["cost_per_1k_input"], float)
    layers = json.loads(runner.invoke(app, ["layers", "-j"]).stdout)
    assert layers["format"] == {"name": "aiops-layers", "version": 1}
    runs = {layer["id"]: layer["runs"] for layer in layers["layers"]}
    assert runs["L2"] == "models" and runs["L6"] == "never (forbidden)"
    assert runs["L0"] == "dry-run only" and runs["L5"] == "deterministic only"
    text = runner.invoke(app, ["layers"])
    assert "Market Outlook" in text.stdout and "dry-run only" in text.stdout


def test_an_unknown_model_names_the_closest_ids_or_all(runner: CliRunner) -> None:
    close = runner.invoke(app, ["l2", "dry-run", "--primary", "gpt5.2"])
    assert close.exit_code == 2
    assert "did you mean 'gpt-5.2'" in close.stderr and "(aiops models)" in close.stderr
    far = runner.invoke(app, ["l2", "dry-run", "--critic", "nosuch"])
    assert far.exit_code == 2
    assert "known ids: deepseek-chat, deepseek-r1," in far.stderr


def test_the_network_banner_names_the_config_directory(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    happy_path(loopback)
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert result.exit_code == 0, result.stderr
    assert f"Config: {fast_config} (--config-dir or AIOPS_CONFIG_DIR)" in " ".join(
        result.stderr.split()
    )
