"""``aiops review``: shows the pack, records review.json beside it, never touches the pack.
The pack is a replay of the shipped L2 sample fixture."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from aiops import cli_pilot
from aiops.canonical import sha256_hex
from aiops.cli import app
from aiops.errors import PackReadError
from aiops.resources import fixtures_dir
from aiops.services.review import ReviewClock, finish_review, start_review
from tests.support.pilot import replay


def digests(pack: Path) -> dict[str, str]:
    return {p.name: sha256_hex(p.read_bytes()) for p in sorted(pack.iterdir())}


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    sample = fixtures_dir() / "transcripts" / "l2_market_outlook_sample.json"
    return replay(sample, tmp_path / "ledger", 1)


def test_approve_flag_records_review_and_leaves_pack_untouched(
    runner: CliRunner, pack: Path, tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    before = digests(pack)
    relative = pack.relative_to(tmp_path)  # the working directory: a stable path to show
    result = runner.invoke(
        app, ["review", str(relative), "--approve", "--notes", "looks sound", "--reviewer", "op-a"]
    )
    assert result.exit_code == 0, result.output
    after = digests(pack)
    assert after.pop("review.json") and after == before  # only the sidecar is new
    review = json.loads((pack / "review.json").read_bytes())
    assert review == {
        "decision": "APPROVE",
        "evidence_pack_id": "EVP-L2-2026-01-10-001",
        "evidence_pack_sha256": before["evidence_pack.json"],
        "notes": "looks sound",
        "interactive": False,  # decided on the command line: not on-screen time
        "review_ended_at": "2026-01-10T12:00:00+00:00",
        "review_started_at": "2026-01-10T12:00:00+00:00",
        "review_version": "1.0",
        "reviewer": "op-a",
        "run_id": json.loads((pack / "evidence_pack.json").read_bytes())["run_id"],
    }
    assert result.stdout == snapshot


def test_reject_flag_and_reviewer_from_user(
    runner: CliRunner, pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "night-operator")
    result = runner.invoke(app, ["review", str(pack), "--reject"])
    assert result.exit_code == 0, result.output
    review = json.loads((pack / "review.json").read_bytes())
    assert (review["decision"], review["reviewer"], review["notes"]) == (
        "REJECT",
        "night-operator",
        "",
    )


def test_no_flag_without_a_terminal_is_refused(runner: CliRunner, pack: Path) -> None:
    result = runner.invoke(app, ["review", str(pack)], input="approve\n")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "aiops: error: no terminal to ask on: pass --approve or --reject (and --notes)"
    )
    assert not (pack / "review.json").exists()


def test_interactive_review_asks_decision_and_notes(
    runner: CliRunner, pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_pilot, "_stdin_is_tty", lambda: True)
    result = runner.invoke(
        app, ["review", str(pack), "--reviewer", "op-b"], input="maybe\nr\nscenario 2 thin\n"
    )
    assert result.exit_code == 0, result.output
    assert "please answer approve or reject" in result.stderr
    review = json.loads((pack / "review.json").read_bytes())
    assert (review["decision"], review["notes"]) == ("REJECT", "scenario 2 thin")
    assert review["interactive"] is True  # decided at the prompt: on-screen time


def test_existing_review_is_refused_before_showing_anything(runner: CliRunner, pack: Path) -> None:
    assert runner.invoke(app, ["review", str(pack), "--approve", "--reviewer", "a"]).exit_code == 0
    first = (pack / "review.json").read_bytes()
    result = runner.invoke(app, ["review", str(pack), "--reject", "--reviewer", "b"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"aiops: error: {pack / 'review.json'} exists; a review is never overwritten"
    )
    assert (pack / "review.json").read_bytes() == first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--approve", "--reject"], "choose one of --approve and --reject"),
        (["--approve", "--reviewer", " "], "no reviewer name: pass --reviewer NAME (or set USER)"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, pack: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["review", str(pack), *args])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"aiops: error: {message}"


def test_not_a_pack_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["review", str(tmp_path), "--approve", "--reviewer", "a"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"aiops: error: {tmp_path} is not an evidence pack (no evidence_pack.json)"
    )


def test_tampered_pack_is_shown_with_verify_pack_warnings(runner: CliRunner, pack: Path) -> None:
    recorded = (pack / "operator_output.md").stat().st_size
    (pack / "operator_output.md").write_text("edited\n", encoding="utf-8")
    (pack / "notes.txt").write_text("added later\n", encoding="utf-8")
    result = runner.invoke(app, ["review", str(pack), "--reject", "--reviewer", "a"])
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: verify-pack: operator_output.md MISMATCH (size 7, recorded {recorded})",
        "warning: verify-pack: notes.txt EXTRA (file not listed in the index)",
    ]


def test_duration_comes_from_the_monotonic_clock(pack: Path) -> None:
    """The wall clock is pinned (SOURCE_DATE_EPOCH); the duration is still measured."""
    ticks = iter([100.0, 100.0 + 12 * 60 + 29.6])
    session = start_review(pack, ReviewClock(monotonic=lambda: next(ticks)))
    recorded = finish_review(session, "APPROVE", "", "op")
    assert recorded.review.review_started_at == "2026-01-10T12:00:00+00:00"
    assert recorded.review.review_ended_at == "2026-01-10T12:12:30+00:00"
    assert recorded.review.duration_seconds == 750.0


def test_pack_changed_during_review_is_refused(pack: Path) -> None:
    session = start_review(
        pack, ReviewClock(wall=lambda: datetime(2026, 1, 10, 13, tzinfo=UTC), monotonic=lambda: 0)
    )
    index = pack / "evidence_pack.json"
    index.write_bytes(index.read_bytes().replace(b'"COMPLETED"', b'"REJECTED"'))
    with pytest.raises(PackReadError, match="changed during the review"):
        finish_review(session, "APPROVE", "", "op")
    assert not (pack / "review.json").exists()


def test_a_fifo_put_in_place_of_the_index_during_review_is_refused_not_waited_on(
    pack: Path,
) -> None:
    import os
    import signal

    session = start_review(pack)
    index = pack / "evidence_pack.json"
    index.unlink()
    os.mkfifo(index)

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("finish_review waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with pytest.raises(PackReadError, match="changed during the review"):
            finish_review(session, "APPROVE", "", "op")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not (pack / "review.json").exists()


def test_end_of_input_at_the_prompt_is_one_line_not_a_traceback(
    runner: CliRunner, pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_pilot, "_stdin_is_tty", lambda: True)
    result = runner.invoke(app, ["review", str(pack), "--reviewer", "op-b"], input="")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == "aiops: error: aborted: nothing was recorded"
    assert not (pack / "review.json").exists()


def test_pack_removed_during_review_is_refused(pack: Path) -> None:
    session = start_review(pack)
    (pack / "evidence_pack.json").unlink()
    with pytest.raises(PackReadError, match="changed during the review"):
        finish_review(session, "APPROVE", "", "op")
    assert not (pack / "review.json").exists()


def test_markup_in_a_tampered_index_is_shown_as_text(runner: CliRunner, pack: Path) -> None:
    index = pack / "evidence_pack.json"
    data = json.loads(index.read_bytes())
    data["creation_timestamp"] = "[/x]"
    index.write_bytes(json.dumps(data).encode("utf-8"))
    result = runner.invoke(app, ["review", str(pack), "--reject", "--reviewer", "a"])
    assert result.exit_code == 0, result.stderr
    assert "[/x]" in result.stdout
    warnings = " ".join(result.stderr.split())  # verify-pack's warning names it too
    assert "evidence_pack.json creation_timestamp '[/x]'" in warnings
