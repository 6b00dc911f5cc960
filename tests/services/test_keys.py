"""keys generate on a failing disk: one line, exit 2, and no half-written key left."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.services import keys
from tests.support.limits import run_with_file_size_limit


def test_a_failed_write_leaves_no_key_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)  # the module the key writer syncs through
    result = runner.invoke(app, ["keys", "generate", "--out-dir", "k"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"aiops: error: cannot write {Path('k') / keys.PRIVATE_KEY_FILE}: "
        f"{os.strerror(errno.ENOSPC)}"
    ]
    assert list((tmp_path / "k").iterdir()) == []  # a retry is not refused as "exists"


def test_a_disk_that_fills_up_part_way_through_a_key_leaves_no_key(tmp_path: Path) -> None:
    # The private key's PEM is 119 bytes: 60 are written, then the file may not grow.
    code = (
        "import sys\nfrom aiops.cli import main\n"
        "sys.argv = ['aiops', 'keys', 'generate', '--out-dir', 'k']\nmain()"
    )
    child = run_with_file_size_limit(code, 60, tmp_path)
    assert child.returncode == 2, child.stderr
    assert child.stderr.splitlines() == [
        f"aiops: error: cannot write {Path('k') / keys.PRIVATE_KEY_FILE}: "
        f"{os.strerror(errno.EFBIG)}"
    ]
    assert list((tmp_path / "k").iterdir()) == []  # no cut-off key that looks usable


def test_an_interrupt_while_the_key_is_written_leaves_no_key(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or SIGTERM between the key file's creation and its last byte: a cut-off
    key would look usable and refuse every retry as "exists"."""

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", interrupted)
    result = runner.invoke(app, ["keys", "generate", "--out-dir", "k"])
    assert (result.exit_code, result.stderr) == (130, "aiops: error: interrupted\n")
    assert list((tmp_path / "k").iterdir()) == []
    monkeypatch.setattr(os, "fsync", fsync)
    assert runner.invoke(app, ["keys", "generate", "--out-dir", "k"]).exit_code == 0


# --- where the private key goes -------------------------------------------------------


def test_by_default_the_key_pair_goes_to_the_per_user_directory(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["keys", "generate"])
    assert result.exit_code == 0, result.stderr
    private = tmp_path / "user-config" / "aiops" / "keys" / "aiops_signing_key.pem"
    assert private.is_file() and stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert not (tmp_path / "aiops_signing_key.pem").exists()
    assert str(private) in result.stdout


def test_a_git_work_tree_is_refused_unless_allowed(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    result = runner.invoke(app, ["keys", "generate", "--out-dir", "repo/keys"])
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: repo/keys is inside the git work tree ")
    assert "--allow-work-tree" in result.stderr
    assert not (tmp_path / "repo" / "keys").exists()
    allowed = runner.invoke(
        app, ["keys", "generate", "--out-dir", "repo/keys", "--allow-work-tree"]
    )
    assert allowed.exit_code == 0
    assert (tmp_path / "repo" / "keys" / "aiops_signing_key.pem").is_file()
