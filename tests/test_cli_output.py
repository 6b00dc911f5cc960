"""What a person or a program reads: the same bytes in any pipe, whole words on a
terminal of 60 columns, English, counts that agree, and no false alarms."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app

WIDTHS = (None, "60", "200")

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


def _env(columns: str | None, packs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    env["AIOPS_PACKS_DIR"] = str(packs)
    if columns is not None:
        env["COLUMNS"] = columns
    return env


def _piped(args: list[str], cwd: Path, columns: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiops", *args],
        cwd=cwd,
        env=_env(columns, Path("packs")),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _on_a_terminal(args: list[str], cwd: Path, columns: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal; return the exit code and what it showed."""
    master, slave = pty.openpty()
    env = _env(columns, cwd / "packs")
    env.pop("_TYPER_FORCE_DISABLE_TERMINAL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "aiops", *args],
        cwd=cwd,
        env=env,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed: all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = process.wait(timeout=120)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # colours off


@pytest.mark.slow
def test_piped_output_is_the_same_whatever_columns_says_and_is_not_padded(
    tmp_path: Path,
) -> None:
    outputs: dict[str | None, tuple[str, str]] = {}
    for columns in WIDTHS:
        cwd = tmp_path / f"w{columns}"
        cwd.mkdir()
        run = _piped(["l2", "replay"], cwd, columns)
        assert run.returncode == 0, run.stderr
        verify = _piped(["verify-pack", "packs"], cwd, columns)
        assert verify.returncode == 0, verify.stderr
        outputs[columns] = (run.stdout, verify.stdout)
    assert outputs[None] == outputs["60"] == outputs["200"]
    run_out, verify_out = outputs[None]
    for line in (run_out + verify_out).splitlines():
        assert line == line.rstrip(), repr(line)
    # Identifiers print whole, each on one line: the pack directory, its id, its hash.
    pack_dir = next((tmp_path / "wNone" / "packs").iterdir()).name
    assert any(
        pack_dir in line and "EVP-L2-2026-01-10-001" in line for line in verify_out.splitlines()
    )


def test_a_pack_file_table_shows_whole_hashes(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["l2", "replay", "--out", "pack"]).exit_code == 0
    result = runner.invoke(app, ["verify-pack", "pack"])
    assert result.exit_code == 0
    sha = re.findall(r"\b[0-9a-f]{64}\b", result.stdout)
    assert len(sha) >= 5  # every file's SHA-256, none cut to a prefix


@pytest.mark.slow
def test_a_60_column_terminal_gets_whole_words_within_its_width(tmp_path: Path) -> None:
    code, shown = _on_a_terminal(["l2", "replay"], tmp_path, "60")
    assert code == 0
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 60
    words = set(shown.split())
    for whole in ("EVP-L2-2026-01-10-001", "L2-0f80e11697abdc3b", "gpt-5.2-pro", "deepseek-r1"):
        assert whole in words or any(whole in line for line in lines), whole
    for label in ("Run ID", "Autonomy", "Violations", "Network"):
        assert any(line.strip().startswith(label) for line in lines), label


def test_operator_output_is_english(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["l2", "dry-run", "--out", "pack"]).exit_code == 0
    text = (tmp_path / "pack" / "operator_output.md").read_text(encoding="utf-8")
    for german in ("Kurzbericht", "Keine", "erforderlich"):
        assert german not in text
    assert "(Summary)" in text and "- No findings" in text and "- No actions required" in text


def test_counts_agree_in_number_and_kpis_not_met_is_not_an_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    result = runner.invoke(app, ["pilot", "report", *NOT_LIVE, "evidence_packs"])
    assert result.exit_code == 1  # its pack is not reviewed: coverage fails
    assert ": 1 pack (" in result.stdout and "(1 call)" in result.stdout
    assert not re.search(r"(?<![/\d])1 (packs|calls)\b", result.stdout)
    assert result.stderr.startswith("aiops: pilot KPIs not met: ")
    assert "error" not in result.stderr


def test_a_pack_that_does_not_verify_is_an_outcome_not_an_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["l2", "dry-run", "--out", "pack"]).exit_code == 0
    (tmp_path / "pack" / "operator_output.md").write_text("changed\n", encoding="utf-8")
    result = runner.invoke(app, ["verify-pack", "pack"])
    assert result.exit_code == 1
    assert result.stderr == "aiops: pack: NOT VERIFIED (1 file problem, 0 findings)\n"


def test_piped_help_is_the_same_whatever_columns_says(tmp_path: Path) -> None:
    shown = {c: _piped(["l2", "replay", "--help"], tmp_path, c) for c in WIDTHS}
    assert all(run.returncode == 0 for run in shown.values())
    assert shown[None].stdout == shown["60"].stdout == shown["200"].stdout
    assert "--input FILE" in shown[None].stdout


@pytest.mark.slow
def test_help_on_a_60_column_terminal_keeps_words_whole(tmp_path: Path) -> None:
    code, shown = _on_a_terminal(["verify-pack", "--help"], tmp_path, "60")
    assert code == 0
    assert max(len(line) for line in shown.splitlines()) <= 60
    assert "--write-checkpoint FILE" in shown


@pytest.mark.slow
def test_a_ledger_table_on_a_60_column_terminal_keeps_short_words_whole(tmp_path: Path) -> None:
    assert _piped(["l2", "dry-run"], tmp_path, None).returncode == 0
    code, shown = _on_a_terminal(["verify-pack", "packs"], tmp_path, "60")
    assert code == 0
    lines = shown.splitlines()
    # The verdict is one line, whole, by design: the terminal wraps it.
    assert max(len(line) for line in lines if not line.startswith("VERIFIED")) <= 60
    for word in ("Sequence", "Signature", "UNSIGNED", "Result"):
        assert any(word in line for line in lines), word
    # The pack id is never cut: wrapped, every character is still there.
    cells = "".join(line.split("│")[3].strip() for line in lines if line.count("│") > 4)
    assert "EVP-L2-2026-01-10-001" in cells
