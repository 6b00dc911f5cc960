"""Kill a command at each of its durable steps, then verify the ledger and run again.

The command runs in a child process whose ``os`` file-system calls that make a write
durable or visible (``mkdir``, ``fsync``, ``rename``, ``replace``, ``link``,
``unlink``) are counted; at step N the child kills itself with SIGKILL just before the
call, so nothing of aiops's own clean-up runs. For every N up to the step count of a
whole run: the ledger must verify (a staging leftover is only a warning), and the next
command must succeed and leave a ledger that verifies with nothing left over.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.chain import read_checkpoint
from tests.conftest import REPO, FakeKeys
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

CRASHING = """
import os, signal, sys
sys.path.insert(0, {repo!r})
step = int(sys.argv[1])
count = 0

def crashing(real):
    def call(*args, **kwargs):
        global count
        count += 1
        if count == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return call

for name in ("mkdir", "fsync", "rename", "replace", "link", "unlink"):
    setattr(os, name, crashing(getattr(os, name)))
sys.argv = ["aiops", *sys.argv[2:]]
from aiops.cli import main
main()
"""
MAX_STEPS = 80  # far more than any command here takes; a loop that never ends fails


def run_until_killed(step: int, *argv: str) -> int:
    """Run ``aiops ARGV`` killed at durable step ``step``; its exit status."""
    child = subprocess.run(
        [sys.executable, "-c", CRASHING.format(repo=str(REPO)), str(step), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if child.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"step {step}: exit {child.returncode}: {child.stderr}")
    return child.returncode


def verify(runner: CliRunner, ledger: Path) -> dict[str, object]:
    result = runner.invoke(app, ["verify-pack", str(ledger), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def leftovers(ledger: Path) -> list[str]:
    return sorted(p.name for p in ledger.iterdir() if p.name.startswith("."))


def crash_at_every_step(
    command: list[str], after_each: Callable[[int], None], *, expect_steps: int
) -> int:
    """Kill ``command`` at step 1, 2, … until it completes; ``after_each(step)`` checks
    what it left. Returns the number of steps the whole command took."""
    for step in range(1, MAX_STEPS):
        code = run_until_killed(step, *command)
        after_each(step)
        if code == 0:
            assert step > expect_steps, f"the command took only {step - 1} durable steps"
            return step - 1
    raise AssertionError(f"{command} did not complete within {MAX_STEPS} steps")


@pytest.fixture
def ledger(runner: CliRunner) -> Path:
    """A ledger with one dry-run pack in it, in the test's working directory."""
    assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
    return Path("evidence_packs").absolute()


@pytest.mark.parametrize("mode", ["replay", "dry-run"])
def test_a_run_killed_at_any_step_leaves_a_ledger_that_verifies(
    runner: CliRunner, ledger: Path, mode: str
) -> None:
    seen_staging = []

    def check(step: int) -> None:
        seen_staging.extend(leftovers(ledger))
        report = verify(runner, ledger)
        assert report["summary"]["warnings"] == len(leftovers(ledger))  # type: ignore[index]
        # The next run removes what the killed one left, and takes the next sequence.
        assert runner.invoke(app, ["l2", mode]).exit_code == 0
        assert leftovers(ledger) == []
        report = verify(runner, ledger)
        assert report["summary"]["warnings"] == 0  # type: ignore[index]

    crash_at_every_step(["l2", mode], check, expect_steps=4)
    assert any(name.startswith(".tmp-L2_MARKET_OUTLOOK_") for name in seen_staging)


def test_a_live_run_killed_at_any_step_leaves_a_ledger_that_verifies(
    runner: CliRunner, ledger: Path, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """Paid calls add durable steps of their own (spend ledger, audit log) before the
    pack's; wherever the run dies, the ledger verifies and the next run succeeds."""
    happy_path(loopback)
    live = ["l2", "live", "--allow-network", "--yes"]

    def check(step: int) -> None:
        verify(runner, ledger)
        result = runner.invoke(app, live)
        assert result.exit_code == 0, result.stderr
        assert leftovers(ledger) == []
        verify(runner, ledger)

    steps = crash_at_every_step(live, check, expect_steps=8)
    assert steps > 8


def test_a_review_killed_at_any_step_leaves_a_ledger_that_verifies(
    runner: CliRunner, ledger: Path
) -> None:
    pack = next(p for p in ledger.iterdir() if not p.name.startswith("."))
    review = ["review", str(pack), "--approve", "--notes", "ok", "--reviewer", "a"]
    seen_staging = []

    def check(step: int) -> None:
        seen_staging.extend(leftovers(ledger))
        report = verify(runner, ledger)
        assert report["summary"]["warnings"] == len(leftovers(ledger))  # type: ignore[index]
        (pack / "review.json").unlink(missing_ok=True)  # recorded: review it again
        # The next command that takes the ledger's lock removes the leftover.
        assert runner.invoke(app, ["l2", "dry-run"]).exit_code == 0
        assert leftovers(ledger) == []

    crash_at_every_step(review, check, expect_steps=2)
    assert any(name.startswith(".tmp-review-") for name in seen_staging)


def test_a_checkpoint_write_killed_at_any_step_leaves_no_half_checkpoint(
    runner: CliRunner, ledger: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "auditor" / "ledger.checkpoint"
    kept.parent.mkdir()
    command = ["verify-pack", str(ledger), "--write-checkpoint", str(kept)]

    def check(step: int) -> None:
        verify(runner, ledger)
        if kept.exists():  # whole or absent, never half written
            assert read_checkpoint(kept).ledger_size == 1
        for left in kept.parent.iterdir():
            assert left == kept or left.name.startswith(".tmp-"), left
        result = runner.invoke(app, [*command[:2], "--write-checkpoint", str(kept)])
        assert result.exit_code == 0, result.stderr
        assert read_checkpoint(kept).ledger_size == 1

    crash_at_every_step(command, check, expect_steps=2)


def test_a_checkpoint_is_never_written_into_the_ledger(runner: CliRunner, ledger: Path) -> None:
    for inside in (ledger / "ledger.checkpoint", next(ledger.iterdir()) / "c.json"):
        result = runner.invoke(app, ["verify-pack", str(ledger), "--write-checkpoint", str(inside)])
        assert result.exit_code == 2
        assert result.stderr.startswith("aiops: error: --write-checkpoint ")
        assert "inside the ledger" in result.stderr and not inside.exists()
    verify(runner, ledger)
