"""Hostile packs that try to hang or exhaust the verifier. Each runs ``aiops
verify-pack`` in a child process under a timeout: a hang fails the test instead of
hanging the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.evidence.builders import reindex, rewrite_json
from tests.evidence.conftest import statuses

TEN_GIB = 10 * 1024**3
TIMEOUT = 30


def _verify(path: Path) -> tuple[int, dict[str, Any], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "aiops", "verify-pack", str(path), "--json"],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout), elapsed


def _sparse(path: Path, size: int) -> None:
    path.unlink()
    with path.open("wb") as handle:
        handle.truncate(size)


def test_a_10_gib_sparse_file_is_rejected_before_hashing(pack: Path) -> None:
    _sparse(pack / "operator_output.md", TEN_GIB)
    code, report, elapsed = _verify(pack)
    assert code == 1
    row = next(f for f in report["packs"][0]["files"] if f["name"] == "operator_output.md")
    assert row["status"] == "TOO_LARGE"
    assert row["sha256"] is None  # never hashed
    assert elapsed < TIMEOUT / 2


def test_a_10_gib_file_recorded_at_its_size_is_still_too_large(pack: Path) -> None:
    _sparse(pack / "transcript.json", TEN_GIB)
    rewrite_json(
        pack / "evidence_pack.json",
        lambda i: next(a for a in i["artifacts"] if a["name"] == "transcript.json").update(
            size=TEN_GIB
        ),
    )
    code, report, _ = _verify(pack)
    assert code == 1
    assert statuses(report)["transcript.json"] == "TOO_LARGE"


def test_a_size_mismatch_is_reported_without_hashing(pack: Path) -> None:
    target = pack / "operator_output.md"
    with target.open("ab") as handle:
        handle.truncate(target.stat().st_size + 1024**3)  # within the bound, wrong size
    code, report, _ = _verify(pack)
    assert code == 1
    row = next(f for f in report["packs"][0]["files"] if f["name"] == "operator_output.md")
    assert row["status"] == "MISMATCH" and row["detail"].startswith("size ")
    assert row["sha256"] is None


def test_a_fifo_in_a_files_place_is_never_opened(pack: Path) -> None:
    (pack / "sod_check.json").unlink()
    os.mkfifo(pack / "sod_check.json")
    code, report, _ = _verify(pack)
    assert code == 1
    assert statuses(report)["sod_check.json"] == "NOT_REGULAR"


def test_a_symlink_to_dev_zero_is_never_followed(pack: Path) -> None:
    (pack / "operator_output.md").unlink()
    (pack / "operator_output.md").symlink_to("/dev/zero")
    code, report, _ = _verify(pack)
    assert code == 1
    assert statuses(report)["operator_output.md"] == "NOT_REGULAR"


def test_a_pack_directory_with_a_huge_number_of_entries_is_refused_quickly(pack: Path) -> None:
    for number in range(10_000):
        (pack / f"e{number}").touch()
    code, report, elapsed = _verify(pack)
    assert code == 1
    assert report["packs"][0]["files"] == []
    assert elapsed < TIMEOUT / 2


@pytest.mark.parametrize(
    ("payload", "phrase"),
    [(b"[" * 200_000 + b"]" * 200_000, "nested too deeply"), (b"1" * 50_000, "digits")],
    ids=["deep-nesting", "huge-integer"],
)
def test_pathological_json_is_rejected_not_crashed_on(
    pack: Path, payload: bytes, phrase: str
) -> None:
    (pack / "transcript.json").write_bytes(payload)
    reindex(pack, "transcript.json")
    code, report, _ = _verify(pack)
    assert code == 1
    found = [f["message"] for f in report["packs"][0]["findings"]]
    assert any(phrase in m for m in found), found


def test_a_device_node_in_a_files_place_is_never_opened(pack: Path) -> None:
    import stat

    (pack / "operator_output.md").unlink()
    try:
        os.mknod(pack / "operator_output.md", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs privileges")
    code, report, _ = _verify(pack)
    assert code == 1
    assert statuses(report)["operator_output.md"] == "NOT_REGULAR"


def test_a_huge_sequence_number_does_not_hang_the_ledger_check(tmp_path: Path) -> None:
    """A pack claiming the largest sequence a pack may hold (2**53 - 1; a larger integer
    is not strict JSON) leaves a gap of that size before it: the gap is reported as one
    range, never counted out number by number."""
    from tests.evidence.builders import ledger

    first = ledger(tmp_path / "ledger", 2)[1]
    huge = 2**53 - 1

    def claim(doc: dict[str, Any]) -> None:
        doc["sequence"] = huge
        doc["evidence_pack_id"] = doc["evidence_pack_id"].rsplit("-", 1)[0] + f"-{huge}"

    rewrite_json(first / "evidence_pack.json", claim)
    code, report, elapsed = _verify(tmp_path / "ledger")
    assert code == 1
    chain = [f["message"] for f in report["findings"] if f["check"] == "chain"]
    assert any(f"sequences 2-{huge - 1} missing" in m for m in chain), chain
    assert elapsed < TIMEOUT / 2


def test_a_lone_surrogate_is_refused_not_crashed_on(pack: Path) -> None:
    """JSON may escape half of a UTF-16 pair ("\\ud800"); that is not Unicode text,
    aiops can never write it, and hashing it as UTF-8 would crash the verifier."""
    path = pack / "proposer_output.json"
    text = json.dumps(json.loads(path.read_bytes())["output_text"], ensure_ascii=False)
    path.write_text(path.read_text().replace(text, '"\\ud800"', 1))
    reindex(pack, "proposer_output.json")
    code, report, _ = _verify(pack)
    assert code == 1
    found = [f["message"] for f in report["packs"][0]["findings"]]
    assert any("lone surrogate" in m for m in found), found


def test_strict_json_tells_a_lone_surrogate_from_a_pair_and_from_an_escaped_backslash() -> None:
    from aiops.evidence.strict import StrictJSONError, loads_strict

    assert loads_strict(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert loads_strict(b'{"k": "\\\\ud800"}') == {"k": "\\ud800"}
    for bad in (b'"\\ud800"', b'{"\\uDC00": 1}', b'[[{"a": ["x\\ud83d"]}]]'):
        with pytest.raises(StrictJSONError, match="lone surrogate"):
            loads_strict(bad)
