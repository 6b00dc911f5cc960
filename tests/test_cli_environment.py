"""The process environment a run may meet: a working directory removed under it, a
terminal of any width, signals from a scheduler, an unusual umask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

GONE = (
    "aiops: error: the working directory cannot be used (No such file or directory; was "
    "it removed?): change to an existing directory and run again\n"
)


@pytest.mark.parametrize(
    "args",
    [["l2", "dry-run"], ["l2", "replay"], ["l2", "replay", "--out", "{tmp}/pack"]],
    ids=["dry-run", "replay", "replay --out elsewhere"],
)
def test_a_removed_working_directory_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    removed = tmp_path / "removed"
    removed.mkdir()
    monkeypatch.chdir(removed)
    removed.rmdir()
    result = runner.invoke(app, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr == GONE
    assert list(tmp_path.iterdir()) == []


def test_a_removed_working_directory_sends_nothing(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    happy_path(loopback)
    removed = tmp_path / "removed"
    removed.mkdir()
    monkeypatch.chdir(removed)
    removed.rmdir()
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert (result.exit_code, result.stderr) == (2, GONE)
    assert loopback.requests == []


def test_a_rate_limit_directory_that_cannot_be_made_sends_nothing(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    happy_path(loopback)
    Path("afile").write_text("")
    monkeypatch.setenv("AIOPS_RATELIMIT_DIR", "afile/ratelimit")
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines()[-1] == (
        "aiops: error: proposer failed: rate-limit state directory afile/ratelimit cannot be "
        "created: Not a directory; set AIOPS_RATELIMIT_DIR to a directory of yours"
    )
    assert loopback.requests == []
    (pack,) = Path("evidence_packs").iterdir()
    assert json.loads((pack / "evidence_pack.json").read_text())["status"] == "FAILED"
