"""What a run checks of its ledger before anything is sent or paid, and what it
guarantees of the pack it adds: a damaged head, a clock behind the head, an ``--out``
inside a pack or under a name that is not the ledger's next are refused (exit 2, one
line); times along the chain follow the sequence whatever the runs' clocks did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.errors import EvidenceWriteError
from aiops.evidence import ledger as ledger_module
from aiops.evidence import strict
from aiops.evidence.pack import write_evidence
from aiops.services import run_layer
from aiops.services.run_layer import RunOptions
from tests.conftest import FIXED_EPOCH, FakeKeys
from tests.evidence.builders import rewrite_json
from tests.services.packs import read
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

LEDGER = Path("evidence_packs")
LIVE = ["l2", "live", "--allow-network", "--yes"]
AUDIT_LOG = Path("logs/ai_model_calls.jsonl")


def packs() -> list[Path]:
    return sorted(p for p in LEDGER.iterdir() if not p.name.startswith("."))


def verified(runner: CliRunner, ledger: Path = LEDGER) -> bool:
    result = runner.invoke(app, ["verify-pack", str(ledger)])
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code == 0


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("aiops: error: ")
    return lines[0]


def _dry_runs(runner: CliRunner, count: int) -> list[Path]:
    for _ in range(count):
        result = runner.invoke(app, ["l2", "dry-run"])
        assert result.exit_code == 0, result.stderr
    return packs()


# --- a damaged head --------------------------------------------------------------------


def test_a_truncated_head_is_refused_before_any_call_is_made_or_paid(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """The reproduced bug: both calls were made and paid, then the write failed on
    ``…_002`` (not empty); on another day sequence 2 was reused under a new name."""
    happy_path(loopback)
    first, second = _dry_runs(runner, 2)
    index = second / "evidence_pack.json"
    index.write_bytes(index.read_bytes()[:100])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert repr(second.name) in line and "aiops verify-pack" in line and "nothing was sent" in line
    assert loopback.requests == []
    assert not AUDIT_LOG.exists()
    assert packs() == [first, second]
    # Another day: the name no longer collides, and still nothing is written.
    later = str(int(FIXED_EPOCH) + 86_400)
    result = runner.invoke(app, ["l2", "replay"], env={"SOURCE_DATE_EPOCH": later})
    assert result.exit_code == 2
    assert repr(second.name) in one_line(result.stderr)
    assert packs() == [first, second]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda pack: (pack / "evidence_pack.json").unlink(), id="index-deleted"),
        pytest.param(lambda pack: (pack / "sod_check.json").write_text("{}"), id="file-changed"),
        pytest.param(lambda pack: (pack / "run_manifest.json").unlink(), id="file-deleted"),
    ],
)
def test_a_damaged_head_is_never_extended(runner: CliRunner, damage: object) -> None:
    _, second = _dry_runs(runner, 2)
    damage(second)  # type: ignore[operator]
    for mode in ("dry-run", "replay"):
        result = runner.invoke(app, ["l2", mode])
        assert result.exit_code == 2
        assert repr(second.name) in one_line(result.stderr)
    assert len(packs()) == 2


def test_a_head_that_does_not_link_to_its_predecessor_is_refused(runner: CliRunner) -> None:
    _, second, third = _dry_runs(runner, 3)
    rewrite_json(second / "evidence_pack.json", lambda doc: doc.update(operator_notes="edited"))
    result = runner.invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert f"{third.name!r} does not link to {second.name!r}" in one_line(result.stderr)
    assert len(packs()) == 3


def test_an_index_read_before_is_read_again_from_disk(runner: CliRunner) -> None:
    """Every run reads every index again (an index's bytes read before are not parsed
    twice): a pack changed after earlier runs read it is found by the next run."""
    first, _, third = _dry_runs(runner, 3)  # each run has read the indexes before it
    (first / "evidence_pack.json").write_bytes(b"{")
    result = runner.invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert f"{first.name!r} has an evidence_pack.json that does not parse" in one_line(
        result.stderr
    )
    # Bytes that parse, taking the head's sequence: the same bytes in two packs.
    (first / "evidence_pack.json").write_bytes((third / "evidence_pack.json").read_bytes())
    result = runner.invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert f"holds sequence 3, as does {first.name!r} and {third.name!r}" in one_line(result.stderr)
    assert len(packs()) == 3


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's files are older than the 2 s a stamp needs to be trusted."""
    monkeypatch.setattr(ledger_module, "_now_ns", lambda: time.time_ns() + 10_000_000_000)


def _index_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = strict.read_file_in

    def counted(directory: Any, name: str, *, max_bytes: int) -> Any:
        if name == "evidence_pack.json":
            reads.append(os.path.basename(directory))
        return original(directory, name, max_bytes=max_bytes)

    monkeypatch.setattr(ledger_module, "read_file_in", counted)
    return reads


@pytest.mark.usefixtures("settled")
def test_an_unchanged_index_is_read_once_a_process_and_a_changed_one_again(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = _dry_runs(runner, 3)
    monkeypatch.setattr(ledger_module, "_SEEN", {})  # as a new process finds it
    reads = _index_reads(monkeypatch)
    ledger_module.read_head(LEDGER)
    ledger_module.read_head(LEDGER)
    assert sorted(reads) == sorted({p.name for p in (first, second, third)})
    reads.clear()
    data = (second / "evidence_pack.json").read_bytes()
    (second / "evidence_pack.json").unlink()
    (second / "evidence_pack.json").write_bytes(data)  # the same bytes: a new stamp
    ledger_module.read_head(LEDGER)
    assert reads == [second.name]
    # The stamp of a file written within the last 2 s is not trusted: read every time.
    monkeypatch.setattr(ledger_module, "_now_ns", time.time_ns)
    (second / "evidence_pack.json").unlink()
    (second / "evidence_pack.json").write_bytes(data)
    reads.clear()
    ledger_module.read_head(LEDGER)
    ledger_module.read_head(LEDGER)
    assert reads.count(second.name) == 2


@pytest.mark.usefixtures("settled")
def test_a_pack_damaged_after_its_index_was_read_in_this_process_is_found(
    runner: CliRunner,
) -> None:
    first, _, third = _dry_runs(runner, 3)
    assert ledger_module.read_head(LEDGER) is not None  # every index read, kept
    (first / "evidence_pack.json").write_bytes((third / "evidence_pack.json").read_bytes())
    with pytest.raises(EvidenceWriteError, match="holds sequence 3"):
        ledger_module.read_head(LEDGER)


# --- the clock -------------------------------------------------------------------------


def test_a_clock_behind_the_head_is_refused_before_any_call(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback)
    _dry_runs(runner, 1)
    earlier = str(int(FIXED_EPOCH) - 3600)
    result = runner.invoke(app, LIVE, env={"SOURCE_DATE_EPOCH": earlier})
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "2026-01-10T11:00:00+00:00" in line and "2026-01-10T12:00:00+00:00" in line
    assert f"SOURCE_DATE_EPOCH to {FIXED_EPOCH} or later" in line
    assert loopback.requests == []
    assert len(packs()) == 1
    assert verified(runner)
    # The same clock as the head's is fine: times may be equal along the chain.
    assert runner.invoke(app, LIVE).exit_code == 0
    assert verified(runner)


def test_a_run_that_started_before_a_later_pack_takes_its_time_after_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run checks the clock at its start; a concurrent run with a later clock may
    take the next sequence before it writes. Its pack's creation time is fixed when it
    claims its sequence, never before its predecessor's: the ledger verifies."""
    real = write_evidence
    raced: list[Path] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not raced:  # another run, with a clock a minute later, takes sequence 1 first
            raced.append(LEDGER)
            monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(FIXED_EPOCH) + 60))
            run_layer.dry_run(RunOptions(layer="l2", mode="dry-run"))
            monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        return real(*args, **kwargs)

    monkeypatch.setattr("aiops.services.run_layer.write_evidence", racing)
    outcome = run_layer.dry_run(RunOptions(layer="l2", mode="dry-run"))  # started 12:00
    assert outcome.evidence.sequence == 2
    assert outcome.evidence.creation_timestamp == "2026-01-10T12:01:00+00:00"
    assert read(outcome.pack_path, "run_manifest.json")["timestamp"] == "2026-01-10T12:00:00+00:00"
    assert verified(runner)


# --- --out -----------------------------------------------------------------------------


def test_out_inside_a_sealed_pack_is_refused(runner: CliRunner) -> None:
    (pack,) = _dry_runs(runner, 1)
    for out in (pack / "inner", pack / "a" / "b"):
        result = runner.invoke(app, ["l2", "dry-run", "--out", str(out)])
        assert result.exit_code == 2
        assert "inside the pack" in one_line(result.stderr)
        assert not out.exists()
    assert verified(runner)


def test_out_in_the_ledger_must_be_its_next_pack_name(runner: CliRunner) -> None:
    (first,) = _dry_runs(runner, 1)
    for name in ("L2_MARKET_OUTLOOK_2026-01-10_007", "mine", first.name[:-1] + "1x"):
        result = runner.invoke(app, ["l2", "dry-run", "--out", str(LEDGER / name)])
        assert result.exit_code == 2
        line = one_line(result.stderr)
        assert "L2_MARKET_OUTLOOK_2026-01-10_002" in line and "next pack" in line
    assert packs() == [first]
    good = LEDGER / "L2_MARKET_OUTLOOK_2026-01-10_002"
    assert runner.invoke(app, ["l2", "dry-run", "--out", str(good)]).exit_code == 0
    assert packs() == [first, good]
    assert verified(runner)


def test_out_elsewhere_keeps_the_operators_name_unless_it_claims_a_sequence(
    runner: CliRunner, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("the operator's own files")
    assert runner.invoke(app, ["l2", "dry-run", "--out", str(elsewhere / "today")]).exit_code == 0
    wrong = elsewhere / "L2_MARKET_OUTLOOK_2026-01-10_005"
    result = runner.invoke(app, ["l2", "dry-run", "--out", str(wrong)])
    assert result.exit_code == 2
    assert "L2_MARKET_OUTLOOK_2026-01-10_002" in one_line(result.stderr)


# --- concurrency -----------------------------------------------------------------------


def test_sixteen_concurrent_runs_on_a_real_clock_leave_a_ledger_that_verifies(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replays and dry-runs released together, on the real clock (times taken before
    the sequence was claimed, at one-second resolution, went backwards in 3 of 11
    such trials before the time was fixed under the ledger's lock)."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    for round_number in range(3):
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "aiops", "l2", "replay" if n % 4 else "dry-run"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(16)
        ]
        for child in children:
            _, err = child.communicate(timeout=300)
            assert child.returncode == 0, err
        assert len(packs()) == 16 * (round_number + 1)
        assert verified(runner)
    indexes = sorted((read(p, "evidence_pack.json") for p in packs()), key=lambda i: i["sequence"])
    assert [i["sequence"] for i in indexes] == list(range(1, 49))
    times = [i["creation_timestamp"] for i in indexes]
    assert times == sorted(times)
    for pack in packs():
        manifest = json.loads((pack / "run_manifest.json").read_bytes())
        assert manifest["timestamp"] <= read(pack, "evidence_pack.json")["creation_timestamp"]


def test_the_ledger_is_checked_again_once_the_operator_confirms(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """The operator may take minutes at the prompt: the head is checked again after."""
    from aiops.errors import EvidenceWriteError
    from aiops.services.model_run import ModelRunOptions, run_model_layer

    happy_path(loopback)
    _, second = _dry_runs(runner, 2)

    def confirm(plan: object) -> None:  # meanwhile, the newest pack is damaged
        (second / "evidence_pack.json").write_bytes(b"{")

    options = ModelRunOptions(RunOptions(layer="l2", mode="live"), allow_network=True)
    with pytest.raises(EvidenceWriteError, match=repr(second.name)):
        run_model_layer(options, confirm)
    assert loopback.requests == []
    assert not AUDIT_LOG.exists()
