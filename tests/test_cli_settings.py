"""``aiops settings`` and the sources of settings and keys: the environment, a named
env file, a secrets directory; their precedence; and refusals of unusable files."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app


def fake(prefix: str) -> str:
    return f"{prefix}-" + secrets.token_hex(8)


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory apart from the working directory, for env files and secrets."""
    return tmp_path_factory.mktemp("outside")


def settings_json(runner: CliRunner, *argv: str) -> dict[str, Any]:
    result = runner.invoke(app, ["settings", "--json", *argv])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def key_source(data: dict[str, Any], variable: str) -> str | None:
    (row,) = [k for k in data["keys"] if k["variable"] == variable]
    source: str | None = row["source"]
    return source


def setting(data: dict[str, Any], variable: str) -> tuple[str | None, str]:
    (row,) = [s for s in data["settings"] if s["variable"] == variable]
    return row["value"], row["source"]


def test_nothing_set_means_defaults_and_no_keys(runner: CliRunner) -> None:
    data = settings_json(runner)
    assert data["format"] == {"name": "aiops-settings", "version": 1}
    assert data["env_file"] is None and data["secrets_dir"] is None
    assert setting(data, "AIOPS_PACKS_DIR") == ("evidence_packs", "default")
    assert key_source(data, "OPENAI_API_KEY") is None


def test_key_from_the_environment(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    value = fake("env")
    monkeypatch.setenv("OPENAI_API_KEY", value)
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0, result.stderr
    assert "OPENAI_API_KEY (openai): from environment" in result.stdout
    assert value not in result.stdout + result.stderr


def test_key_and_setting_from_a_named_env_file(runner: CliRunner, outside: Path) -> None:
    value = fake("file")
    env_file = outside / "desk.env"
    env_file.write_text(f"# desk\nOPENAI_API_KEY={value}\nexport AIOPS_PACKS_DIR='from-file'\n")
    for argv in (["--env-file", str(env_file)], ["settings", "--env-file", str(env_file)]):
        result = runner.invoke(app, argv if argv[0] == "settings" else [*argv, "settings"])
        assert result.exit_code == 0, result.stderr
        assert "OPENAI_API_KEY (openai): from env file" in result.stdout
        assert "AIOPS_PACKS_DIR = from-file (env file)" in result.stdout
        assert value not in result.stdout + result.stderr


def test_env_file_named_by_variable(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = outside / "desk.env"
    env_file.write_text(f"DEEPSEEK_API_KEY={fake('file')}\n")
    monkeypatch.setenv("AIOPS_ENV_FILE", str(env_file))
    data = settings_json(runner)
    assert data["env_file"] == str(env_file)
    assert key_source(data, "DEEPSEEK_API_KEY") == "env file"


def test_dot_env_in_the_working_directory_is_never_read(runner: CliRunner) -> None:
    Path(".env").write_text(f"OPENAI_API_KEY={fake('implicit')}\nAIOPS_PACKS_DIR=implicit\n")
    data = settings_json(runner)
    assert data["env_file"] is None
    assert key_source(data, "OPENAI_API_KEY") is None
    assert setting(data, "AIOPS_PACKS_DIR") == ("evidence_packs", "default")


def test_key_from_the_secrets_directory(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (outside / "OPENAI_API_KEY").write_text(fake("mounted") + "\n")
    monkeypatch.setenv("AIOPS_SECRETS_DIR", str(outside))
    data = settings_json(runner)
    assert data["secrets_dir"] == str(outside)
    assert key_source(data, "OPENAI_API_KEY") == "secrets dir"
    assert key_source(data, "DEEPSEEK_API_KEY") is None


def test_default_secrets_directory_when_it_exists(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiops.secret_sources as sources

    (outside / "DEEPSEEK_API_KEY").write_text(fake("mounted"))
    monkeypatch.setattr(sources, "DEFAULT_SECRETS_DIR", outside)
    data = settings_json(runner)
    assert data["secrets_dir"] == str(outside)
    assert key_source(data, "DEEPSEEK_API_KEY") == "secrets dir"
    monkeypatch.setattr(sources, "DEFAULT_SECRETS_DIR", outside / "absent")
    assert settings_json(runner)["secrets_dir"] is None


@pytest.mark.parametrize(
    ("in_env", "in_file", "in_dir", "expected"),
    [
        (True, True, True, "environment"),
        (False, True, True, "env file"),
        (False, False, True, "secrets dir"),
        ("", True, True, "env file"),  # an empty variable counts as unset
        (False, "", True, "secrets dir"),  # an empty line in the file too
    ],
)
def test_precedence_environment_then_env_file_then_secrets_dir(
    in_env: bool | str,
    in_file: bool | str,
    in_dir: bool,
    expected: str,
    runner: CliRunner,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets_dir = outside / "secrets"
    secrets_dir.mkdir()
    if in_dir:
        (secrets_dir / "OPENAI_API_KEY").write_text(fake("dir"))
    monkeypatch.setenv("AIOPS_SECRETS_DIR", str(secrets_dir))
    if in_env is not False:
        monkeypatch.setenv("OPENAI_API_KEY", fake("env") if in_env is True else "")
    env_file = outside / "desk.env"
    env_file.write_text("" if in_file is False else f"OPENAI_API_KEY={in_file and fake('f')}\n")
    data = settings_json(runner, "--env-file", str(env_file))
    assert key_source(data, "OPENAI_API_KEY") == expected


def test_environment_setting_wins_over_the_env_file(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = outside / "desk.env"
    env_file.write_text(f"AIOPS_PACKS_DIR=from-file\nAIOPS_SECRETS_DIR={outside}\n")
    monkeypatch.setenv("AIOPS_PACKS_DIR", "from-env")
    data = settings_json(runner, "--env-file", str(env_file))
    assert setting(data, "AIOPS_PACKS_DIR") == ("from-env", "environment")
    assert setting(data, "AIOPS_SECRETS_DIR") == (str(outside), "env file")
    assert data["secrets_dir"] == str(outside)


def test_config_dir_on_the_command_line(runner: CliRunner, fast_config: Path) -> None:
    data = settings_json(runner, "--config-dir", str(fast_config))
    assert setting(data, "AIOPS_CONFIG_DIR") == (str(fast_config), "command line")
    assert str(fast_config) in data["config_dir"]


def refused(runner: CliRunner, argv: list[str]) -> str:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiops: error: "), result.stderr
    return lines[0]


def test_missing_env_file_is_one_line(runner: CliRunner, outside: Path) -> None:
    line = refused(runner, ["settings", "--env-file", str(outside / "absent.env")])
    assert "absent.env cannot be read" in line


def test_fifo_env_file_is_refused_without_blocking(runner: CliRunner, outside: Path) -> None:
    fifo = outside / "pipe.env"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(runner, ["settings", "--env-file", str(fifo)])


def test_fifo_in_the_secrets_dir_is_refused(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(outside / "OPENAI_API_KEY")
    monkeypatch.setenv("AIOPS_SECRETS_DIR", str(outside))
    assert "not a regular file" in refused(runner, ["settings"])


def test_secrets_dir_that_is_no_directory(
    runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_SECRETS_DIR", str(outside / "absent"))
    assert "is not a directory" in refused(runner, ["settings"])


def test_env_file_that_is_not_utf8(runner: CliRunner, outside: Path) -> None:
    env_file = outside / "latin.env"
    env_file.write_bytes(b"OPENAI_API_KEY=caf\xe9-value\n")
    line = refused(runner, ["settings", "--env-file", str(env_file)])
    assert "not UTF-8" in line and "caf" not in line


def test_settings_schema_is_exported(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema", "settings"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["title"] == "SettingsOutput"


STARTUP_HEAVY = (
    "pydantic",
    "pydantic_settings",
    "dotenv",
    "rich",
    "httpx",
    "aiops.env_settings",
    "aiops.services",
)


@pytest.mark.parametrize(
    "argv",
    [[], ["--help"], ["--env-file", "named.env", "--help"], ["settings", "--help"]],
)
def test_help_loads_no_settings_framework(argv: list[str], outside: Path) -> None:
    """The CLI module and ``--help`` (even with ``--env-file`` given) load neither
    pydantic-settings nor the env-file parser: their start-up budget has no room."""
    import subprocess
    import sys

    (outside / "named.env").write_text("AIOPS_PACKS_DIR=x\n")
    code = (
        "import sys\n"
        "from aiops.cli import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        f"heavy = {STARTUP_HEAVY!r}\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=outside,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"


@pytest.mark.parametrize("mode", ["dry-run", "replay"])
def test_a_run_takes_its_settings_from_the_named_env_file(
    mode: str, runner: CliRunner, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = outside / "desk.env"
    env_file.write_text("AIOPS_PACKS_DIR=ledger-from-file\n")
    result = runner.invoke(app, ["l2", mode, "--env-file", str(env_file)])
    assert result.exit_code == 0, result.stderr
    assert list(Path("ledger-from-file").glob("*/run_manifest.json"))
    assert not Path("evidence_packs").exists()
    monkeypatch.setenv("AIOPS_PACKS_DIR", "ledger-from-env")  # the environment wins
    result = runner.invoke(app, ["l2", mode, "--env-file", str(env_file)])
    assert result.exit_code == 0, result.stderr
    assert list(Path("ledger-from-env").glob("*/run_manifest.json"))


def test_a_run_refuses_a_missing_env_file_before_anything(runner: CliRunner, outside: Path) -> None:
    line = refused(runner, ["l2", "replay", "--env-file", str(outside / "absent.env")])
    assert "absent.env cannot be read" in line
    assert list(Path.cwd().iterdir()) == []
