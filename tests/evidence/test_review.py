"""review.json beside a pack: written once and atomically; verify-pack checks that it
refers to the pack it sits beside (``check_review``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.canonical import pack_json, sha256_hex
from aiops.cli import app
from aiops.errors import OutputExistsError
from aiops.evidence.review import check_review, read_review, write_review
from aiops.evidence.verify import verify_pack
from aiops.schemas.review import Review
from tests.support.pilot import replay


@pytest.fixture
def packs(pilot_fixtures: dict[str, Path], tmp_path: Path) -> tuple[Path, Path]:
    ledger = tmp_path / "ledger"
    return (
        replay(pilot_fixtures["baseline"], ledger, 1),
        replay(pilot_fixtures["baseline"], ledger, 2),
    )


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
    return Review.model_validate({**fields, **changes})


def put(pack: Path, doc: dict[str, object]) -> None:
    (pack / "review.json").write_bytes(pack_json(doc))


def review_errors(pack: Path) -> list[str]:
    report = verify_pack(pack)
    return [f.message for f in report.findings if f.check == "review"]


def test_no_review_is_no_problem(packs: tuple[Path, Path]) -> None:
    assert read_review(packs[0]) is None and verify_pack(packs[0]).verified


def test_written_review_verifies_and_keeps_its_duration(packs: tuple[Path, Path]) -> None:
    path = write_review(packs[0], review_for(packs[0]))
    written = review_for(packs[0]).model_dump(mode="json", exclude_none=True)
    assert path.read_bytes() == pack_json(written)
    assert "interactive" not in written  # not known: not written
    report = verify_pack(packs[0])
    assert report.verified and "review.json" in [f.name for f in report.files]
    review = read_review(packs[0])
    assert review is not None and review.duration_seconds == 450.0
    assert not [p for p in packs[0].parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_review_is_never_overwritten(packs: tuple[Path, Path]) -> None:
    write_review(packs[0], review_for(packs[0]))
    before = (packs[0] / "review.json").read_bytes()
    with pytest.raises(OutputExistsError, match="a review is never overwritten"):
        write_review(packs[0], review_for(packs[0], decision="REJECT"))
    assert (packs[0] / "review.json").read_bytes() == before


def test_review_copied_from_another_pack_is_not_verified(
    runner: CliRunner, packs: tuple[Path, Path]
) -> None:
    first, second = packs
    write_review(first, review_for(first))
    (second / "review.json").write_bytes((first / "review.json").read_bytes())
    problems = review_errors(second)
    assert len(problems) == 2
    copied_from = sha256_hex((first / "evidence_pack.json").read_bytes())
    assert problems[0].startswith(
        f"review.json: evidence_pack_sha256 {copied_from} does not match evidence_pack.json ("
    )
    assert problems[1] == (
        "review.json: evidence_pack_id 'EVP-L2-2026-01-10-001' is not this pack's "
        "'EVP-L2-2026-01-11-002'"
    )
    result = runner.invoke(app, ["verify-pack", str(second)])
    assert result.exit_code == 1
    assert "evidence_pack_sha256" in result.stdout
    assert result.stderr.strip().endswith("NOT VERIFIED (0 file problems, 2 findings)")
    ledger = runner.invoke(app, ["verify-pack", str(first.parent), "--json"])
    assert ledger.exit_code == 1
    verdicts = {p["path"]: p["verified"] for p in json.loads(ledger.stdout)["packs"]}
    assert verdicts == {str(first): True, str(second): False}


def test_review_naming_another_index_hash_is_not_verified(
    runner: CliRunner, packs: tuple[Path, Path]
) -> None:
    """Same pack id and run id, but the SHA-256 of a different evidence_pack.json: the
    review was of another version of the index."""
    pack = packs[0]
    put(pack, review_for(pack, evidence_pack_sha256="0" * 64).model_dump(mode="json"))
    assert review_errors(pack) == [
        f"review.json: evidence_pack_sha256 {'0' * 64} does not match evidence_pack.json "
        f"({sha256_hex((pack / 'evidence_pack.json').read_bytes())}): the review is of "
        "another pack or of an earlier version of this one"
    ]
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 1


def test_review_with_right_hash_but_wrong_run_id(packs: tuple[Path, Path]) -> None:
    put(packs[0], review_for(packs[0], run_id="L2-0000000000000000").model_dump(mode="json"))
    run_id = json.loads((packs[0] / "evidence_pack.json").read_bytes())["run_id"]
    assert review_errors(packs[0]) == [
        f"review.json: run_id 'L2-0000000000000000' is not this pack's '{run_id}'"
    ]


def test_review_ending_before_it_starts_is_not_verified(packs: tuple[Path, Path]) -> None:
    """The model refuses it; the verifier (which does not build the model) checks too."""
    doc = review_for(packs[0]).model_dump(mode="json")
    doc["review_ended_at"] = "2026-01-10T12:59:59+00:00"
    put(packs[0], doc)
    assert review_errors(packs[0]) == ["review.json: review_ended_at is before review_started_at"]
    with pytest.raises(ValueError, match="before review_started_at"):
        read_review(packs[0])


@pytest.mark.parametrize(
    ("content", "check"),
    [
        (b"{", "strict-json"),
        (b'{"decision": "MAYBE"}\n', "schema"),
        (b'{"decision": "APPROVE", "decision": "REJECT"}\n', "strict-json"),
    ],
)
def test_malformed_review_is_not_verified(
    packs: tuple[Path, Path], content: bytes, check: str
) -> None:
    (packs[0] / "review.json").write_bytes(content)
    report = verify_pack(packs[0])
    assert not report.verified
    assert {f.check for f in report.errors} == {check}
    with pytest.raises(ValueError, match="review.json is not a valid review"):
        read_review(packs[0])


def test_check_review_on_documents() -> None:
    index = {"evidence_pack_id": "EVP-L2-2026-01-10-001", "run_id": "L2-1"}
    review = {
        **index,
        "evidence_pack_sha256": "a" * 64,
        "review_started_at": "2026-01-10T13:00:00Z",
        "review_ended_at": "2026-01-10T13:00:00+00:00",
    }
    assert check_review(review, index, "a" * 64) == []
    assert len(check_review(review, {**index, "run_id": "L2-2"}, "b" * 64)) == 2


def test_review_times_must_be_ordered(packs: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="before review_started_at"):
        review_for(packs[0], review_ended_at="2026-01-10T12:59:59+00:00")
    with pytest.raises(ValueError, match="String should match pattern"):
        review_for(packs[0], review_started_at="2026-01-10 13:00")


def test_a_review_not_in_canonical_form_is_not_verified(packs: tuple[Path, Path]) -> None:
    """No digest covers review.json, so like the index and the envelope it must be
    byte-for-byte as aiops writes it."""
    doc = review_for(packs[0]).model_dump(mode="json")
    (packs[0] / "review.json").write_bytes(json.dumps(doc, indent=4).encode() + b"\n")
    report = verify_pack(packs[0])
    assert not report.verified
    assert [f.message for f in report.errors] == [
        "review.json is not in canonical form (sorted keys, 2-space indent, final newline)"
    ]


def test_a_review_with_a_duplicate_key_is_refused_by_every_reader(
    packs: tuple[Path, Path],
) -> None:
    """verify-pack refuses it; the reader behind ``aiops review`` and the pilot report
    must not quietly take the last value instead."""
    text = pack_json(review_for(packs[0]).model_dump(mode="json")).decode()
    text = text.replace('"decision": "APPROVE"', '"decision": "REJECT",\n  "decision": "APPROVE"')
    (packs[0] / "review.json").write_text(text)
    assert {f.check for f in verify_pack(packs[0]).errors} == {"strict-json"}
    with pytest.raises(ValueError, match="duplicate key 'decision'"):
        read_review(packs[0])


def test_a_linked_review_is_never_followed(packs: tuple[Path, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside-review.json"
    outside.write_bytes(pack_json(review_for(packs[0]).model_dump(mode="json")))
    (packs[0] / "review.json").symlink_to(outside)
    assert not verify_pack(packs[0]).verified
    with pytest.raises(ValueError, match="review.json is not a valid review: is a symbolic link"):
        read_review(packs[0])
