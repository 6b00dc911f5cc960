"""The ledger: every pack verified, and the hash chain through them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.evidence.builders import ledger, reindex, rewrite_json
from tests.evidence.conftest import Verify, messages


@pytest.fixture
def packs(tmp_path: Path) -> list[Path]:
    return ledger(tmp_path / "ledger", 4)


def test_a_valid_ledger_verifies(tmp_path: Path, packs: list[Path], verify_json: Verify) -> None:
    code, report = verify_json(tmp_path / "ledger")
    assert code == 0
    assert report["kind"] == "ledger"
    assert [p["sequence"] for p in report["packs"]] == [1, 2, 3, 4]
    assert report["summary"]["packs_verified"] == 4


def test_a_deleted_pack_is_a_gap(tmp_path: Path, packs: list[Path], verify_json: Verify) -> None:
    shutil.rmtree(packs[1])
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any("sequence 2 missing" in m for m in messages(report, "chain"))


def test_swapped_packs_are_caught(tmp_path: Path, packs: list[Path], verify_json: Verify) -> None:
    swap = tmp_path / "ledger" / "swap"
    packs[1].rename(swap)
    packs[2].rename(packs[1])
    swap.rename(packs[2])
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert sum("does not match the pack it holds" in m for m in messages(report)) == 2


def test_reordered_indexes_break_the_hash_chain(
    tmp_path: Path, packs: list[Path], verify_json: Verify
) -> None:
    # Swap the predecessor hashes of two packs, keeping names and sequences: only the
    # hashes tell.
    first, second = (packs[1] / "evidence_pack.json"), (packs[2] / "evidence_pack.json")
    a, b = json.loads(first.read_bytes()), json.loads(second.read_bytes())
    a["previous_pack_sha256"], b["previous_pack_sha256"] = (
        b["previous_pack_sha256"],
        a["previous_pack_sha256"],
    )
    from aiops.canonical import pack_json

    first.write_bytes(pack_json(a))
    second.write_bytes(pack_json(b))
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any("previous_pack_sha256 does not match" in m for m in messages(report, "chain"))


def test_a_replayed_old_pack_is_caught(
    tmp_path: Path, packs: list[Path], verify_json: Verify
) -> None:
    shutil.copytree(packs[0], tmp_path / "ledger" / "L2_REPLAYED_COPY")
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any("replayed copy" in m for m in messages(report, "chain"))


def test_a_fork_is_caught(tmp_path: Path, packs: list[Path], verify_json: Verify) -> None:
    # A second pack written against the same predecessor: same sequence, other content.
    fork = tmp_path / "ledger" / "fork"
    shutil.copytree(packs[3], fork)
    from tests.evidence.builders import rewrite_json

    rewrite_json(fork / "evidence_pack.json", lambda i: i.update(operator_notes="forked"))
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any("a fork" in m for m in messages(report, "chain"))


def test_timestamps_going_backwards_are_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verify_json: Verify
) -> None:
    """aiops never writes this (a run with an older clock is refused, and the time is
    fixed under the lock); a pack edited afterwards is caught, even when re-chained."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1768046400")
    first, second = ledger(tmp_path / "ledger", 2)
    earlier = "2026-01-10T11:00:00+00:00"
    for name in ("evidence_pack.json", "run_manifest.json"):
        key = "creation_timestamp" if name == "evidence_pack.json" else "timestamp"
        rewrite_json(second / name, lambda doc, key=key: doc.update({key: earlier}))
    reindex(second, "run_manifest.json")
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any("time went backwards" in m for m in messages(report, "chain"))


def test_a_staging_leftover_is_a_warning_not_a_failure(
    tmp_path: Path, packs: list[Path], verify_json: Verify
) -> None:
    (tmp_path / "ledger" / ".tmp-L2_X-123-abcd").mkdir()
    code, report = verify_json(tmp_path / "ledger")
    assert code == 0
    assert report["summary"]["warnings"] == 1
    assert any("staging directory" in f["message"] for f in report["findings"])


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda led: (led / "stray.txt").write_text("x"), "not a pack"),
        (lambda led: (led / ".hidden").mkdir(), "hidden"),
        (lambda led: (led / "link").symlink_to(led), "symbolic link"),
    ],
    ids=["file", "hidden-dir", "symlink"],
)
def test_other_ledger_entries_fail(
    tmp_path: Path,
    packs: list[Path],
    verify_json: Verify,
    make: Callable[[Path], object],
    phrase: str,
) -> None:
    make(tmp_path / "ledger")
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert any(phrase in m for m in messages(report, "layout"))


def test_a_broken_pack_in_a_ledger_fails_the_ledger(
    tmp_path: Path, packs: list[Path], verify_json: Verify
) -> None:
    (packs[2] / "sod_check.json").write_text("{}")
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1
    assert [p["verified"] for p in report["packs"]] == [True, True, False, True]


def _checkpoint(runner: CliRunner, ledger_dir: Path, file: Path) -> None:
    result = runner.invoke(app, ["verify-pack", str(ledger_dir), "--write-checkpoint", str(file)])
    assert result.exit_code == 0, result.stderr
    assert "Checkpoint written" in result.stdout


def test_checkpoint_round_trip_and_growth(
    tmp_path: Path, packs: list[Path], runner: CliRunner, verify_json: Verify
) -> None:
    kept = tmp_path / "kept.json"
    _checkpoint(runner, tmp_path / "ledger", kept)
    saved = json.loads(kept.read_bytes())
    assert saved["ledger_size"] == 4
    assert (
        saved["head_pack_id"]
        == json.loads((packs[3] / "evidence_pack.json").read_bytes())["evidence_pack_id"]
    )
    ledger(tmp_path / "ledger", 1)  # the ledger may grow
    code, report = verify_json(tmp_path / "ledger", "--checkpoint", str(kept))
    assert code == 0
    assert report["checkpoint"] == saved


def test_a_truncated_tail_fails_the_checkpoint(
    tmp_path: Path, packs: list[Path], runner: CliRunner, verify_json: Verify
) -> None:
    kept = tmp_path / "kept.json"
    _checkpoint(runner, tmp_path / "ledger", kept)
    shutil.rmtree(packs[3])
    assert verify_json(tmp_path / "ledger")[0] == 0  # the chain alone cannot tell
    code, report = verify_json(tmp_path / "ledger", "--checkpoint", str(kept))
    assert code == 1
    assert any("removed from the tail" in m for m in messages(report, "checkpoint"))


def test_a_rewritten_head_fails_the_checkpoint(
    tmp_path: Path, packs: list[Path], runner: CliRunner, verify_json: Verify
) -> None:
    kept = tmp_path / "kept.json"
    _checkpoint(runner, tmp_path / "ledger", kept)
    from tests.evidence.builders import rewrite_json

    rewrite_json(packs[3] / "evidence_pack.json", lambda i: i.update(operator_notes="rewritten"))
    code, report = verify_json(tmp_path / "ledger", "--checkpoint", str(kept))
    assert code == 1
    assert any("rewritten" in m for m in messages(report, "checkpoint"))


def test_no_checkpoint_is_written_for_a_ledger_that_fails(
    tmp_path: Path, packs: list[Path], runner: CliRunner
) -> None:
    shutil.rmtree(packs[1])
    kept = tmp_path / "kept.json"
    result = runner.invoke(
        app, ["verify-pack", str(tmp_path / "ledger"), "--write-checkpoint", str(kept)]
    )
    assert result.exit_code == 1
    assert not kept.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{}",
        b'{"checkpoint_version": 1, "ledger_size": 0, "head_pack_id": "x", "head_sha256": "0"}',
        b'{"checkpoint_version": 1, "ledger_size": 4, "head_pack_id": "x", "head_sha256": "'
        + b"0" * 64
        + b'\\n"}',
    ],
    ids=["empty", "no-fields", "bad-values", "digest-with-newline"],
)
def test_a_malformed_checkpoint_is_exit_2(
    tmp_path: Path, packs: list[Path], runner: CliRunner, content: bytes
) -> None:
    kept = tmp_path / "kept.json"
    kept.write_bytes(content)
    result = runner.invoke(
        app, ["verify-pack", str(tmp_path / "ledger"), "--checkpoint", str(kept)]
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "checkpoint" in result.stderr


def test_a_checkpoint_is_refused_for_a_single_pack(
    tmp_path: Path, packs: list[Path], runner: CliRunner
) -> None:
    result = runner.invoke(
        app, ["verify-pack", str(packs[0]), "--write-checkpoint", str(tmp_path / "c.json")]
    )
    assert result.exit_code == 2
    assert "ledger" in result.stderr
