"""review.json beside a pack: written once and atomically; ``check_review`` ties it to
its pack; the stand-in integrity check the pilot report uses until verify-pack is wired."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aiops.canonical import pack_json, sha256_hex
from aiops.errors import OutputExistsError
from aiops.evidence.integrity import check_pack_files, standin_verify
from aiops.evidence.review import check_review, read_review, write_review
from aiops.schemas.review import Review
from tests.pilot_ledger import DaySpec, review_pack, write_l2_pack


@pytest.fixture
def packs(tmp_path: Path) -> tuple[Path, Path]:
    ledger = tmp_path / "ledger"
    return write_l2_pack(ledger, DaySpec(day=1)), write_l2_pack(ledger, DaySpec(day=2))


def review_for(pack: Path, **changes: object) -> Review:
    index = json.loads((pack / "evidence_pack.json").read_bytes())
    fields = {
        "evidence_pack_id": index["evidence_pack_id"],
        "run_id": index["run_id"],
        "evidence_pack_sha256": sha256_hex((pack / "evidence_pack.json").read_bytes()),
        "reviewer": "operator-a",
        "decision": "APPROVE",
        "notes": "",
        "review_started_at": "2026-01-10T13:00:00+00:00",
        "review_ended_at": "2026-01-10T13:07:30+00:00",
    }
    return Review(**{**fields, **changes})  # type: ignore[arg-type]


def test_no_review_is_no_problem(packs: tuple[Path, Path]) -> None:
    assert check_review(packs[0]) == [] and read_review(packs[0]) is None


def test_written_review_checks_and_keeps_its_duration(packs: tuple[Path, Path]) -> None:
    path = write_review(packs[0], review_for(packs[0]))
    assert path.read_bytes() == pack_json(review_for(packs[0]).model_dump(mode="json"))
    assert check_review(packs[0]) == []
    review = read_review(packs[0])
    assert review is not None and review.duration_seconds == 450.0
    assert not [p for p in packs[0].parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_review_is_never_overwritten(packs: tuple[Path, Path]) -> None:
    write_review(packs[0], review_for(packs[0]))
    before = (packs[0] / "review.json").read_bytes()
    with pytest.raises(OutputExistsError, match="a review is never overwritten"):
        write_review(packs[0], review_for(packs[0], decision="REJECT"))
    assert (packs[0] / "review.json").read_bytes() == before


def test_review_of_another_pack_is_reported(packs: tuple[Path, Path]) -> None:
    first, second = packs
    (second / "review.json").write_bytes(pack_json(review_for(first).model_dump(mode="json")))
    problems = check_review(second)
    assert len(problems) == 2
    assert problems[0].startswith("review.json: evidence_pack_sha256 ")
    assert problems[1] == (
        "review.json: evidence_pack_id 'EVP-L2-2026-01-10-001' is not this pack's "
        "'EVP-L2-2026-01-11-002'"
    )


def test_review_with_right_hash_but_wrong_run_id(packs: tuple[Path, Path]) -> None:
    (packs[0] / "review.json").write_bytes(
        pack_json(review_for(packs[0], run_id="L2-0000000000000000").model_dump(mode="json"))
    )
    assert check_review(packs[0]) == [
        "review.json: run_id 'L2-0000000000000000' is not this pack's "
        f"'{json.loads((packs[0] / 'evidence_pack.json').read_bytes())['run_id']}'"
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "review.json is not a valid review: "),
        (b'{"decision": "MAYBE"}', "review.json is not a valid review: "),
    ],
)
def test_malformed_review_is_one_problem(packs, content: bytes, reason: str) -> None:
    (packs[0] / "review.json").write_bytes(content)
    problems = check_review(packs[0])
    assert len(problems) == 1 and problems[0].startswith(reason)


def test_review_times_must_be_ordered(packs: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="before review_started_at"):
        review_for(packs[0], review_ended_at="2026-01-10T12:59:59+00:00")
    with pytest.raises(ValueError, match="String should match pattern"):
        review_for(packs[0], review_started_at="2026-01-10 13:00")


def test_standin_check_passes_intact_pack_with_sidecars(packs: tuple[Path, Path]) -> None:
    review_pack(packs[0], 1768050000, 7)
    (packs[0] / "evidence_pack.dsse.json").write_text("{}\n", encoding="utf-8")
    assert check_pack_files(packs[0]) == [] and standin_verify(packs[0])


def test_standin_check_catches_edits_extras_and_missing_files(packs) -> None:
    pack = packs[0]
    report = pack / "operator_output.md"
    report.write_bytes(report.read_bytes().replace(b"PASS", b"PASS!", 1))
    (pack / "notes.txt").write_text("added later\n", encoding="utf-8")
    os.remove(pack / "critic_output.json")
    assert check_pack_files(pack) == [
        "critic_output.json: missing",
        f"operator_output.md: size {report.stat().st_size}, recorded {report.stat().st_size - 1}",
        "notes.txt: not listed in evidence_pack.json",
    ]
    assert not standin_verify(pack)


def test_standin_check_catches_same_size_edit(packs) -> None:
    manifest = packs[0] / "run_manifest.json"
    data = manifest.read_bytes()
    manifest.write_bytes(data.replace(b'"replay"', b'"REPLAY"', 1))
    assert check_pack_files(packs[0]) == [
        "run_manifest.json: sha256 differs from the recorded digest"
    ]
