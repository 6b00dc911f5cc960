"""Paths the file system refuses to look at: one line and exit 2, never a traceback.

A name longer than the file system allows (ENAMETOOLONG) stands for every path that
cannot even be examined — a directory the user may not enter (EACCES) fails the same
way, but root ignores permissions, so that case runs only for other users.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.providers.recording import write_fixture
from tests.conftest import FakeKeys
from tests.support.limits import run_with_file_size_limit
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

TOO_LONG = "n" * 300  # NAME_MAX is 255 on every common file system
AT_THE_LIMIT = "c" * 250  # a valid name; its temporary sibling must not be longer
WIDE_AT_THE_LIMIT = "\U0001f600" * 63  # 252 bytes in 63 characters: the limit is in bytes
NAME_TOO_LONG = os.strerror(errno.ENAMETOOLONG)

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["l2", "dry-run", "--out", TOO_LONG], f"cannot use --out {TOO_LONG}: {NAME_TOO_LONG}"),
        (["l2", "replay", "--out", TOO_LONG], f"cannot use --out {TOO_LONG}: {NAME_TOO_LONG}"),
        (
            ["l2", "record", "--allow-network", "--yes", "--fixture", f"{TOO_LONG}/f.json"],
            f"cannot use --fixture {TOO_LONG}/f.json: {NAME_TOO_LONG}",
        ),
        (["--config-dir", TOO_LONG, "l2", "dry-run"], f"invalid config {TOO_LONG}: cannot read: "),
        (["pilot", "report", *NOT_LIVE, TOO_LONG], f"ledger {TOO_LONG}: {NAME_TOO_LONG}"),
        (["review", TOO_LONG, "--approve", "--reviewer", "r"], f"{TOO_LONG}: {NAME_TOO_LONG}"),
    ],
    ids=["dry-run --out", "replay --out", "record --fixture", "config", "pilot", "review"],
)
def test_a_name_too_long_is_one_line_and_exit_2(
    runner: CliRunner, args: list[str], line: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    (shown,) = result.stderr.splitlines()
    assert shown.startswith(f"aiops: error: {line}")
    assert not Path("evidence_packs").exists()  # refused before anything was written


def test_files_written_beside_a_target_at_the_name_limit(runner: CliRunner) -> None:
    """The temporary file beside a checkpoint or HTML report must fit the file system
    too: a target name that is valid works, one that is not is one line, exit 2."""
    assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    written = runner.invoke(
        app, ["verify-pack", "evidence_packs", "--write-checkpoint", AT_THE_LIMIT]
    )
    assert written.exit_code == 0, written.output
    assert Path(AT_THE_LIMIT).is_file()
    report = runner.invoke(app, ["pilot", "report", *NOT_LIVE, "--html", AT_THE_LIMIT + ".html"])
    assert report.exit_code in (0, 1), report.output  # a one-day pilot misses KPIs
    assert Path(AT_THE_LIMIT + ".html").is_file()
    refused = runner.invoke(app, ["verify-pack", "evidence_packs", "--write-checkpoint", TOO_LONG])
    assert refused.exit_code == 2
    assert refused.stderr == f"aiops: error: cannot write checkpoint {TOO_LONG}: {NAME_TOO_LONG}\n"
    assert sorted(p.name for p in Path().iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("name", [AT_THE_LIMIT, WIDE_AT_THE_LIMIT], ids=["ascii", "4-byte"])
def test_a_pack_named_at_the_limit_is_written(runner: CliRunner, name: str) -> None:
    """The staging directory beside it is named for it, cut short in bytes, not in
    characters: 64 characters of four bytes each would pass the limit themselves."""
    result = runner.invoke(app, ["l2", "dry-run", "--out", f"ledger/{name}"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in Path("ledger").iterdir()] == [name]
    written = runner.invoke(app, ["verify-pack", "ledger", "--write-checkpoint", name])
    assert written.exit_code == 0, written.output
    assert Path(name).is_file()


def test_a_fixture_that_cannot_be_written_leaves_no_temporary_file(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from aiops.errors import EvidenceWriteError\n"
        "from aiops.providers.recording import write_fixture\n"
        "try:\n"
        "    write_fixture(Path('fixtures/f.json'), b'x' * 10_000, False)\n"
        "except EvidenceWriteError as error:\n"
        "    print(error)\n"
    )
    child = run_with_file_size_limit(code, 4096, tmp_path)  # a disk that fills up
    assert child.returncode == 0, child.stderr
    assert child.stdout == f"cannot write fixture fixtures/f.json: {os.strerror(errno.EFBIG)}\n"
    assert list((tmp_path / "fixtures").iterdir()) == []
    write_fixture(tmp_path / "fixtures" / "f.json", b"{}\n", False)  # and a retry works
    assert [p.name for p in (tmp_path / "fixtures").iterdir()] == ["f.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_ledger_entry_that_cannot_be_entered_is_reported_not_a_traceback(
    runner: CliRunner,
) -> None:
    assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    closed = Path("evidence_packs") / "closed"
    closed.mkdir(mode=0o000)
    try:
        again = runner.invoke(app, ["l2", "dry-run"])  # a pack it cannot read: refused
        assert again.exit_code == 2, again.output
        assert "'closed' has no readable evidence_pack.json" in again.stderr
        verify = runner.invoke(app, ["verify-pack", "evidence_packs"])
        assert verify.exit_code == 1
        assert "closed" in verify.stdout and "Traceback" not in verify.stderr
        report = runner.invoke(app, ["pilot", "report", *NOT_LIVE])
        assert report.exit_code == 1 and "Traceback" not in report.stderr
    finally:
        closed.chmod(0o700)


@pytest.mark.parametrize(
    ("args", "packs_dir", "line"),
    [
        ([], "afile/ledger", f"cannot create afile/ledger: {os.strerror(errno.ENOTDIR)}"),
        ([], "dangling", "cannot create dangling: dangling is a symbolic link to nothing"),
        (["--out", "afile/pack"], None, "cannot create afile: afile is not a directory"),
    ],
    ids=["ledger under a file", "dangling link", "--out under a file"],
)
def test_a_pack_that_could_not_be_written_is_refused_before_anything_is_sent(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    packs_dir: str | None,
    line: str,
) -> None:
    Path("afile").write_text("in the way")
    Path("dangling").symlink_to("nowhere")
    if packs_dir is not None:
        monkeypatch.setenv("AIOPS_PACKS_DIR", packs_dir)
    happy_path(loopback)
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"aiops: error: {line}"]
    assert loopback.requests == []  # nothing paid for that could leave no evidence
    assert not Path("logs").exists()


def test_a_fixture_that_could_not_be_written_is_refused_before_anything_is_sent(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    Path("afile").write_text("in the way")
    happy_path(loopback)
    args = ["l2", "record", "--allow-network", "--yes", "--fixture", "afile/f.json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr == "aiops: error: cannot create afile: afile is not a directory\n"
    assert loopback.requests == [] and not Path("evidence_packs").exists()
