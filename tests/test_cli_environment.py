"""The process environment a run may meet: a working directory removed under it, a
terminal of any width, signals from a scheduler, an unusual umask."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, Captured, LoopbackServer, Reply
from tests.support.scripts import critic_handler, happy_path, proposer_reply
from tests.support.state import spend_ledger

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


# --- signals: Ctrl-C and a scheduler's SIGTERM take the same clean way out -------------


def _child(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m aiops ARGS`` with SIGINT at its default, whatever the parent ignores
    (a job started in the background inherits SIGINT ignored, and Python then keeps it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "aiops", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 30
    while not condition():
        assert child.poll() is None, child.communicate()[1].decode()
        assert time.monotonic() < give_up, "the child never got there"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("sent", "code", "line"),
    [(signal.SIGINT, 130, b"aiops: error: interrupted\n"), (signal.SIGTERM, 143, None)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_a_model_call_stops_the_run_cleanly(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    tmp_path: Path,
    sent: signal.Signals,
    code: int,
    line: bytes | None,
) -> None:
    happy_path(loopback)
    live = ["l2", "live", "--allow-network", "--yes"]
    assert runner.invoke(app, live).exit_code == 0  # one pack before the stopped run
    loopback.requests.clear()
    release = threading.Event()

    def hang(captured: Captured) -> Reply:
        release.wait(10)
        return proposer_reply()

    loopback.script(RESPONSES_PATH, hang)
    child = _child(live, tmp_path, dict(os.environ))  # network_env set the keys and URLs
    try:
        _wait_for(lambda: bool(loopback.requests), child)
        child.send_signal(sent)
        _, err = child.communicate(timeout=30)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
    assert child.returncode == code
    assert err.splitlines()[-1] + b"\n" == (line or b"aiops: error: terminated\n")
    assert b"Traceback" not in err
    ledger = Path("evidence_packs")
    assert len(list(ledger.iterdir())) == 1  # no partial pack, no staging left
    assert runner.invoke(app, ["verify-pack", str(ledger)]).exit_code == 0
    # The call in flight may be billed: its reservation keeps counting until it lapses.
    spend = [json.loads(x)["kind"] for x in spend_ledger().read_text().split()]
    assert spend[-1] == "reserve"


def _waiting_for_a_lock(pid: int) -> bool:
    """``/proc/locks`` lists a process blocked in flock() with a ``->`` marker."""
    for entry in Path("/proc/locks").read_text().splitlines():
        fields = entry.split()
        if "->" in fields and str(pid) in fields:
            return True
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks")
def test_sigterm_while_the_pack_waits_for_the_ledger_is_one_line_and_exit_143(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    env = {**os.environ, "AIOPS_PACKS_DIR": str(ledger)}
    fd = os.open(ledger, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run is writing its pack
        child = _child(["l2", "replay"], tmp_path, env)
        try:
            _wait_for(lambda: _waiting_for_a_lock(child.pid), child)
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    finally:
        os.close(fd)
    assert (child.returncode, err) == (143, b"aiops: error: terminated\n")
    assert list(ledger.iterdir()) == []  # no pack, no staging directory


def test_a_second_sigterm_does_not_cut_the_clean_up_short() -> None:
    """A supervisor or an impatient ``kill`` may send SIGTERM again while the first is
    removing the staging directory: that clean-up runs to its end."""
    from aiops.cli_support import Terminated, stop_cleanly_on_sigterm

    previous = signal.getsignal(signal.SIGTERM)
    cleaned_up = False
    try:
        stop_cleanly_on_sigterm()
        with pytest.raises(Terminated):
            try:
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as kill returns
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # again, during the clean-up
                cleaned_up = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert cleaned_up


# --- terminal width: every value stays on the screen -----------------------------------


@pytest.mark.parametrize(("columns", "width"), [("0", 80), ("1", 60), ("5", 60), ("100000", 0)])
def test_the_summary_keeps_every_value_at_any_terminal_width(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, columns: str, width: int
) -> None:
    monkeypatch.delenv("TERMINAL_WIDTH")
    monkeypatch.setenv("COLUMNS", columns)
    # A terminal: a pipe's layout does not depend on COLUMNS at all (test_cli_output.py).
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich >= 14
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich 13 (the lowest admitted, and LiteLLM's pin)
    monkeypatch.setenv("TERM", "xterm")
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.output
    shown = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # bold and colours off
    rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line}
    assert rows["Status"] == ["COMPLETED"]
    assert rows["Pack"][0] == "EVP-L2-2026-01-10-001"
    assert "Traceback" not in result.stderr
    if width:  # a table as wide as the (fitted) terminal: nothing collapsed to nothing
        assert max(len(line) for line in shown.splitlines()) == width
    verify = runner.invoke(app, ["verify-pack", "evidence_packs"])
    assert verify.exit_code == 0
    assert "EVP-L2" in verify.stdout and "8/8 OK" in verify.stdout  # the id may wrap


# --- text from outside never drives the terminal ---------------------------------------


def test_an_error_line_stays_one_line_whatever_the_path_holds(runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify-pack", "gone\nsecond line\x1b[2J"])
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: gone\\nsecond line\\x1b[2J: No such file or directory\n"
    )


def test_a_model_answer_cannot_drive_the_terminal_or_split_the_error_line(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    rationale = "looks fine\n\x1b[1A\x1b[2Kaiops: COMPLETED\x9b2J"

    def hostile(verdict: dict[str, object]) -> dict[str, object]:
        return {**verdict, "rationale": rationale}

    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, critic_handler("REJECT", mutate=hostile))
    result = runner.invoke(app, ["l2", "live", "--allow-network", "--yes"])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (
        "aiops: critic rejected: looks fine\\n\\x1b[1A\\x1b[2Kaiops: COMPLETED\\x9b2J"
    )
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\x9b" not in stream
    # Only the terminal gets the escapes: the evidence keeps the answer as received.
    (pack,) = Path("evidence_packs").iterdir()
    critic = json.loads((pack / "critic_output.json").read_text(encoding="utf-8"))
    assert critic["rationale"] == rationale
    assert json.loads(critic["output_text"])["rationale"] == rationale


def test_a_hostile_pack_directory_name_reaches_the_terminal_inert(runner: CliRunner) -> None:
    assert (
        runner.invoke(app, ["l2", "dry-run", "--out", "ledger/\x1b[1A\x1b[2KVERIFIED"]).exit_code
        == 0
    )
    result = runner.invoke(app, ["verify-pack", "ledger"])
    assert result.exit_code == 0  # a name given with --out is the operator's choice
    assert "\x1b" not in result.stdout
    assert "\\x1b[1A\\x1b[2K" in result.stdout


# --- umask: what aiops creates is never writable by everyone ---------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_nothing_aiops_creates_is_writable_by_everyone_whatever_the_umask(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    tmp_path: Path,
    umask: int,
) -> None:
    happy_path(loopback)
    work = tmp_path / "work"
    work.mkdir()
    os.chdir(work)  # the autouse fixture restores the test's directory afterwards
    previous = os.umask(umask)
    try:
        commands = [
            ["l2", "record", "--allow-network", "--yes", "--fixture", "fx/l2/f.json"],
            ["l2", "dry-run", "--out", "elsewhere/l2/pack"],
            ["keys", "generate", "--out-dir", "keys/new"],
            ["pilot", "report", "--mode", "record", "--html", "report.html"],
        ]
        for args in commands:
            assert runner.invoke(app, args).exit_code in (0, 1), args  # 1: KPIs not met
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(work)): p.stat().st_mode & 0o777 for p in work.rglob("*")}
    assert {name for name, mode in modes.items() if mode & 0o002} == set()
    directory = 0o775 & ~umask  # what aiops makes: ledger, logs, fixture directories
    for name in ("evidence_packs", "logs", "fx", "fx/l2", "elsewhere", "elsewhere/l2"):
        assert modes[name] == directory, name
    assert modes["keys"] == modes["keys/new"] == 0o700
    assert modes["keys/new/aiops_signing_key.pem"] == 0o600
    assert modes["logs/ai_model_calls.jsonl"] == 0o600
    assert "logs/spend_ledger.jsonl" not in modes  # the desk's state, not the directory's
    assert spend_ledger().stat().st_mode & 0o777 == 0o600
    for name in ("fx/l2/f.json", "report.html", "elsewhere/l2/pack/evidence_pack.json"):
        assert modes[name] == 0o644 & ~umask, name


# --- text that is not UTF-8: evidence records text exactly, so it is refused ----------

LATIN1 = os.fsdecode(b"f\xfcr")  # "für" typed in a Latin-1 terminal: not UTF-8 bytes
REFUSED = (
    "(a terminal, locale or file name in another encoding?); evidence records it "
    "exactly, in UTF-8, so it is refused"
)


def test_notes_typed_in_another_encoding_are_refused_before_anything_is_written(
    runner: CliRunner,
) -> None:
    for mode in ("dry-run", "replay"):
        result = runner.invoke(app, ["l2", mode, "--notes", f"Notiz {LATIN1} heute"])
        assert result.exit_code == 2, result.output
        assert (
            result.stderr
            == f"aiops: error: not UTF-8 text in --notes: Notiz f\\xfcr heute {REFUSED}\n"
        )
    assert not Path("evidence_packs").exists()
    assert runner.invoke(app, ["l2", "dry-run", "--notes", "Notiz für heute"]).exit_code == 0


def test_an_input_or_fixture_named_in_another_encoding_is_refused(runner: CliRunner) -> None:
    from aiops.resources import fixtures_dir

    snapshots = Path("data/market_snapshots")
    snapshots.mkdir(parents=True)
    sample = fixtures_dir() / "market_snapshots" / "l2_sample_snapshot.json"
    named = snapshots / f"snap-{LATIN1}.json"
    named.write_bytes(sample.read_bytes())
    result = runner.invoke(app, ["l2", "replay", "--input", str(named)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "aiops: error: not UTF-8 text in an --input path: "
        f"data/market_snapshots/snap-f\\xfcr.json {REFUSED}\n"
    )
    fixture = Path(f"fixture-{LATIN1}.json")
    fixture.write_bytes(
        (fixtures_dir() / "transcripts" / "l2_market_outlook_sample.json").read_bytes()
    )
    replay = runner.invoke(app, ["l2", "replay", "--fixture", str(fixture)])
    assert replay.exit_code == 2
    assert replay.stderr == (
        f"aiops: error: not UTF-8 text in the --fixture file name: fixture-f\\xfcr.json {REFUSED}\n"
    )
    assert not Path("evidence_packs").exists()


def test_a_review_in_another_encoding_records_nothing(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["l2", "replay", "--out", "pack"]).exit_code == 0
    monkeypatch.setenv("USER", f"j{LATIN1}gen")
    by_user = runner.invoke(app, ["review", "pack", "--approve", "--notes", "ok"])
    assert by_user.exit_code == 2
    assert by_user.stderr.startswith(
        "aiops: error: not UTF-8 text in the reviewer name (--reviewer or $USER): jf\\xfcrgen"
    )
    notes = runner.invoke(
        app, ["review", "pack", "--approve", "--reviewer", "r", "--notes", LATIN1]
    )
    assert notes.exit_code == 2
    assert notes.stderr.startswith("aiops: error: not UTF-8 text in the review notes: f\\xfcr")
    assert not Path("pack/review.json").exists()
