"""Hostile packs: every change to a pack's files, names or layout is not verified."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from aiops.canonical import pack_json
from aiops.services.keys import KeyPair
from aiops.services.review import finish_review, start_review
from tests.evidence.builders import reindex, rewrite_json
from tests.evidence.conftest import Verify, messages, statuses

PACK_NAMES = [
    "evidence_pack.json",
    "run_manifest.json",
    "operator_output.md",
    "sod_check.json",
    "capability_scope_check.json",
    "proposer_output.json",
    "critic_output.json",
    "transcript.json",
]
LISTED = [name for name in PACK_NAMES if name != "evidence_pack.json"]


def test_a_valid_pack_verifies_with_every_file_ok(pack: Path, verify_json: Verify) -> None:
    code, report = verify_json(pack)
    assert code == 0
    assert report["verified"] is True
    assert statuses(report) == dict.fromkeys(PACK_NAMES, "OK")
    assert report["packs"][0]["signature"]["status"] == "UNSIGNED"


@pytest.mark.parametrize("name", [*PACK_NAMES, "evidence_pack.dsse.json"])
def test_flipping_a_byte_in_any_file_is_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify, name: str
) -> None:
    target = signed / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["verified"] is False


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda data: data[:-1], "size"),  # truncate
        (lambda data: data + b"\n", "size"),  # append
        (lambda data: data.replace(b"Run ID", b"Run Id", 1), "sha256 differs"),  # same size
    ],
    ids=["truncate", "append", "same-size-edit"],
)
def test_edits_to_a_listed_file_are_mismatches(
    pack: Path, verify_json: Verify, edit: Any, detail: str
) -> None:
    target = pack / "operator_output.md"
    target.write_bytes(edit(target.read_bytes()))
    code, report = verify_json(pack)
    assert code == 1
    row = next(f for f in report["packs"][0]["files"] if f["name"] == "operator_output.md")
    assert row["status"] == "MISMATCH"
    assert detail in row["detail"]


@pytest.mark.parametrize("name", LISTED)
def test_deleting_a_listed_file_is_missing(pack: Path, verify_json: Verify, name: str) -> None:
    (pack / name).unlink()
    code, report = verify_json(pack)
    assert code == 1
    assert statuses(report)[name] == "MISSING"


def test_deleting_the_index_is_not_verified_and_every_other_file_reported(
    pack: Path, verify_json: Verify
) -> None:
    (pack / "evidence_pack.json").unlink()
    code, report = verify_json(pack)
    assert code == 1
    found = statuses(report)
    assert found["evidence_pack.json"] == "MISSING"
    assert set(found) == set(PACK_NAMES)


@pytest.mark.parametrize(
    ("make", "name", "status", "detail"),
    [
        (lambda p: (p / "notes.txt").write_text("x"), "notes.txt", "EXTRA", "file"),
        (lambda p: (p / ".hidden").write_text("x"), ".hidden", "EXTRA", "hidden"),
        (lambda p: (p / "sub").mkdir(), "sub", "EXTRA", "directory"),
        # spelt as in every line aiops prints (aiops.streams.printable), never acted on
        (lambda p: (p / "a\nb\x1b.json").write_text("x"), "a\\nb\\x1b.json", "BAD_NAME", "control"),
        (
            lambda p: (p / "SOD_CHECK.json").write_bytes((p / "sod_check.json").read_bytes()),
            "SOD_CHECK.json",
            "BAD_NAME",
            "only by case",
        ),
        (  # KELVIN SIGN normalises (NFC) to K, then folds to k: a twin of sod_check.json
            lambda p: (p / "sod_chec\u212a.json").write_text("{}"),
            "sod_chec\u212a.json",
            "BAD_NAME",
            "Unicode normalization",
        ),
    ],
    ids=["extra-file", "hidden-file", "subdirectory", "control-chars", "case-twin", "nfc-twin"],
)
def test_unlisted_entries_are_reported(
    pack: Path, verify_json: Verify, make: Any, name: str, status: str, detail: str
) -> None:
    make(pack)
    code, report = verify_json(pack)
    assert code == 1
    row = next(f for f in report["packs"][0]["files"] if f["name"] == name)
    assert (row["status"], row["role"]) == (status, "unlisted")
    assert detail in row["detail"]


def test_an_nfd_spelling_of_a_listed_name_is_a_twin(pack: Path, verify_json: Verify) -> None:
    # An index entry spelled with a decomposed character that composes (NFC) to the
    # same name as an existing entry is the same name to a person.
    composed = "caf\u00e9.json"
    (pack / composed).write_text("{}")
    (pack / "cafe\u0301.json").write_text("{}")
    code, report = verify_json(pack)
    assert code == 1
    assert {statuses(report)[composed], statuses(report)["cafe\u0301.json"]} <= {
        "EXTRA",
        "BAD_NAME",
    }


def _edit_index(pack: Path, change: Any) -> None:
    rewrite_json(pack / "evidence_pack.json", change)


def _artifact(index: dict[str, Any], name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = next(a for a in index["artifacts"] if a["name"] == name)
    return artifact


@pytest.mark.parametrize("bad", ["../x.json", "/etc/passwd", "sub/x.json", "..", "a\x1b[2J.json"])
def test_listed_names_outside_the_known_set_are_bad_names(
    pack: Path, tmp_path: Path, verify_json: Verify, bad: str
) -> None:
    outside = tmp_path / "packs" / "x.json"
    outside.write_text("{}\n")  # a file the entry could reach, with a matching hash

    def change(index: dict[str, Any]) -> None:
        index["artifacts"].append(
            {
                "name": bad,
                "digest": {"sha256": hashlib.sha256(b"{}\n").hexdigest()},
                "size": 3,
            }
        )

    _edit_index(pack, change)
    code, report = verify_json(pack)
    assert code == 1
    bad_rows = [f for f in report["packs"][0]["files"] if f["status"] == "BAD_NAME"]
    assert len(bad_rows) == 1
    assert "\x1b" not in bad_rows[0]["name"]  # control characters never reach a terminal


def test_a_name_listed_twice_is_a_bad_name(pack: Path, verify_json: Verify) -> None:
    _edit_index(pack, lambda i: i["artifacts"].append(dict(_artifact(i, "sod_check.json"))))
    code, report = verify_json(pack)
    assert code == 1
    assert any("listed twice" in f["detail"] for f in report["packs"][0]["files"])


@pytest.mark.parametrize(
    "digest",
    [
        {"md5": "0" * 32},
        {"sha256": "0" * 63},
        {"sha256": "A" * 64},
        {"sha256": "0" * 64, "md5": "0" * 32},
    ],
    ids=["md5", "short", "upper-case", "two-digests"],
)
def test_only_plain_sha256_digests_are_accepted(
    pack: Path, verify_json: Verify, digest: dict[str, str]
) -> None:
    _edit_index(pack, lambda i: _artifact(i, "sod_check.json").update(digest=digest))
    code, report = verify_json(pack)
    assert code == 1
    rows = report["packs"][0]["files"]
    assert sorted(f["name"] for f in rows) == sorted(PACK_NAMES)  # each file once
    row = next(f for f in rows if f["name"] == "sod_check.json")
    assert (row["status"], row["detail"]) == (
        "MISMATCH",
        "digest must be exactly one sha256 of 64 lower-case hex digits",
    )
    assert messages(report, "schema")


def test_a_symlink_to_an_outside_file_with_the_same_bytes_is_not_regular(
    pack: Path, tmp_path: Path, verify_json: Verify
) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(pack / "sod_check.json", outside)
    (pack / "sod_check.json").unlink()
    (pack / "sod_check.json").symlink_to(outside)
    code, report = verify_json(pack)
    assert code == 1
    assert statuses(report)["sod_check.json"] == "NOT_REGULAR"


def test_a_directory_in_a_files_place_is_not_regular(pack: Path, verify_json: Verify) -> None:
    (pack / "transcript.json").unlink()
    (pack / "transcript.json").mkdir()
    code, report = verify_json(pack)
    assert code == 1
    assert statuses(report)["transcript.json"] == "NOT_REGULAR"


def _raw_edit(pack: Path, name: str, old: bytes, new: bytes) -> None:
    path = pack / name
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    if name != "evidence_pack.json":
        reindex(pack, name)  # the forger keeps the index in step: only strictness catches it


@pytest.mark.parametrize(
    ("name", "old", "new", "why"),
    [
        ("sod_check.json", b'{\n  "checks"', b'{\n  "result": "PASS",\n  "checks"', "duplicate"),
        (
            "sod_check.json",
            b'{\n  "checks"',
            b'{\n  "\\u0072esult": "PASS",\n  "checks"',
            "duplicate",
        ),
        ("evidence_pack.json", b'{\n  "aiops', b'{\n  "status": "X",\n  "aiops', "duplicate"),
        ("sod_check.json", b'\n  "provider_diversity"', b'"x": NaN, "provider_diversity"', "NaN"),
        (
            "sod_check.json",
            b'\n  "provider_diversity"',
            b'"x": -Infinity, "provider_diversity"',
            "Infinity",
        ),
        ("run_manifest.json", b"{", b"\xef\xbb\xbf{", "byte-order mark"),
        ("run_manifest.json", b'"aiops_version"', b'"aiops_\xff"', "invalid UTF-8"),
        ("evidence_pack.json", b"{", b"\xef\xbb\xbf{", "byte-order mark"),
    ],
    ids=[
        "dup-key",
        "dup-escaped-key",
        "dup-in-index",
        "nan",
        "infinity",
        "bom",
        "utf8",
        "bom-index",
    ],
)
def test_json_that_is_not_strict_is_rejected(
    pack: Path, verify_json: Verify, name: str, old: bytes, new: bytes, why: str
) -> None:
    _raw_edit(pack, name, old, new)
    code, report = verify_json(pack)
    assert code == 1
    assert any(why in message for message in messages(report, "strict-json"))


def test_an_index_not_in_canonical_form_is_rejected(pack: Path, verify_json: Verify) -> None:
    index = pack / "evidence_pack.json"
    index.write_bytes(index.read_bytes().replace(b"\n  ", b"\n\t", 1))
    code, report = verify_json(pack)
    assert code == 1
    assert any("canonical form" in m for m in messages(report, "strict-json"))


def test_a_whole_valid_pack_copied_over_another_is_caught_by_its_name(
    tmp_path: Path, verify_json: Verify
) -> None:
    from tests.evidence.builders import ledger

    first, second = ledger(tmp_path / "ledger", 2)
    shutil.rmtree(second)
    shutil.copytree(first, second)
    code, report = verify_json(second)
    assert code == 1
    assert any("does not match the pack it holds" in m for m in messages(report))
    code, report = verify_json(tmp_path / "ledger")
    assert code == 1


def test_a_pack_directory_with_too_many_entries_is_refused(pack: Path, verify_json: Verify) -> None:
    for number in range(200):
        (pack / f"junk-{number}").touch()
    code, report = verify_json(pack)
    assert code == 1
    assert report["packs"][0]["files"] == []
    assert any("more than 64 entries" in m for m in messages(report, "layout"))


def test_a_valid_pack_reports_the_sidecar_review_file_as_ok(
    pack: Path, verify_json: Verify
) -> None:
    finish_review(start_review(pack), "APPROVE", "", "ops")
    code, report = verify_json(pack)
    assert code == 0
    row = next(f for f in report["packs"][0]["files"] if f["name"] == "review.json")
    assert (row["status"], row["role"]) == ("OK", "sidecar")


def test_a_review_sidecar_must_have_the_review_shape(pack: Path, verify_json: Verify) -> None:
    (pack / "review.json").write_bytes(pack_json({"reviewer": "ops", "decision": "accepted"}))
    code, report = verify_json(pack)
    assert code == 1
    schema = messages(report, "schema")
    assert any(m.startswith("review.json ") and "accepted" in m for m in schema), schema


def test_a_review_sidecar_must_be_strict_json(pack: Path, verify_json: Verify) -> None:
    (pack / "review.json").write_bytes(b'{"a": 1, "a": 2}')
    code, report = verify_json(pack)
    assert code == 1
    assert any("review.json" in m for m in messages(report, "strict-json"))


def test_a_file_changing_while_hashed_is_reported(
    pack: Path, monkeypatch: pytest.MonkeyPatch, verify_json: Verify
) -> None:
    from aiops.evidence import strict

    real = strict._hash_stream

    def hash_then_touch(fd: int, size: int, keep: bool, head: int) -> Any:
        result = real(fd, size, keep, head)
        os.utime(fd, ns=(0, 0))  # what a concurrent writer does to mtime
        return result

    monkeypatch.setattr(strict, "_hash_stream", hash_then_touch)
    code, report = verify_json(pack)
    assert code == 1
    assert any(f["detail"] == "changed while being hashed" for f in report["packs"][0]["files"])


def test_report_json_is_stable(pack: Path, verify_json: Verify) -> None:
    _, first = verify_json(pack)
    _, second = verify_json(pack)
    assert first == second
    assert json.dumps(first, sort_keys=True)  # serialisable as is
