"""Atomic pack writing, the ledger chain and concurrency."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from aiops.canonical import pack_json, sha256_hex
from aiops.errors import EvidenceWriteError, OutputExistsError
from aiops.evidence.ledger import ChainLink, chain_head, pack_dir_name
from aiops.evidence.writer import write_pack
from aiops.schemas.pack import Artifact


def _index(link: ChainLink, artifacts: list[Artifact]) -> bytes:
    return pack_json(
        {
            "evidence_pack_id": f"EVP-T-{link.sequence:03d}",
            "creation_timestamp": link.created,
            "sequence": link.sequence,
            "previous_pack_id": link.previous_pack_id,
            "previous_pack_sha256": link.previous_pack_sha256,
            "artifacts": [a.model_dump() for a in artifacts],
        }
    )


def _write(ledger: Path, payload: bytes = b"x") -> Path:
    return write_pack(
        ledger=ledger,
        files={"a.json": payload},
        build_index=_index,
        name=lambda link: pack_dir_name("L2", "Market Outlook", "2026-01-10", link.sequence),
    ).path


def test_packs_chain_by_sequence_and_previous_hash(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    first = _write(ledger)
    second = _write(ledger)
    assert first.name == "L2_MARKET_OUTLOOK_2026-01-10_001"
    assert second.name == "L2_MARKET_OUTLOOK_2026-01-10_002"
    index = json.loads((second / "evidence_pack.json").read_bytes())
    assert index["sequence"] == 2
    assert index["previous_pack_id"] == "EVP-T-001"
    assert index["previous_pack_sha256"] == sha256_hex((first / "evidence_pack.json").read_bytes())
    assert index["artifacts"][0]["digest"]["sha256"] == sha256_hex(b"x")
    head = chain_head(ledger)
    assert (head.sequence, head.previous_pack_id, head.previous_pack_sha256) == (
        3,
        "EVP-T-002",
        sha256_hex((second / "evidence_pack.json").read_bytes()),
    )


def test_a_failure_while_building_leaves_no_partial_pack(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"

    def broken(link: ChainLink, artifacts: list[Artifact]) -> bytes:
        raise RuntimeError("crash while building the index")

    with pytest.raises(RuntimeError):
        write_pack(ledger=ledger, files={"a.json": b"x"}, build_index=broken, name=ledger / "p")
    assert list(ledger.iterdir()) == []


def test_every_file_and_the_pack_directory_are_durable_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack appears under its name only whole: each file's data and the staging
    directory's entries are flushed before the rename, the ledger's entry after it."""
    steps: list[tuple[str, int]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        steps.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def rename(source: str | Path, target: str | Path) -> None:
        steps.append(("rename", os.stat(source).st_ino))
        real_rename(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    ledger = tmp_path / "ledger"
    pack = write_pack(
        ledger=ledger,
        files={"a.json": b"a", "b.json": b"b", "c.md": b"c"},
        build_index=_index,
        name=lambda link: pack_dir_name("L2", "Market Outlook", "2026-01-10", link.sequence),
    ).path
    files = sorted(path.stat().st_ino for path in pack.iterdir())
    assert len(files) == 4  # the three files and the index
    renamed = steps.index(("rename", pack.stat().st_ino))
    before = [inode for step, inode in steps[:renamed] if step == "fsync"]
    assert sorted(before[:-1]) == files and before[-1] == pack.stat().st_ino
    assert steps[renamed + 1 :] == [("fsync", ledger.stat().st_ino)]


def test_existing_non_empty_target_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "p"
    target.mkdir()
    (target / "keep.txt").write_text("evidence")
    with pytest.raises(OutputExistsError, match="not empty"):
        write_pack(
            ledger=tmp_path,
            files={"a.json": b"x"},
            build_index=_index,
            name=target,
            known_ledger=False,
        )
    assert (target / "keep.txt").read_text() == "evidence"
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


def test_empty_target_directory_is_used(tmp_path: Path) -> None:
    target = tmp_path / "p"
    target.mkdir()
    write_pack(
        ledger=tmp_path, files={"a.json": b"x"}, build_index=_index, name=target, known_ledger=False
    )
    assert sorted(p.name for p in target.iterdir()) == ["a.json", "evidence_pack.json"]


def test_a_target_name_at_the_file_system_limit_is_written(tmp_path: Path) -> None:
    """The hidden staging directory is named after the target; a target name that is
    itself allowed must not make the staging name too long."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / ("p" * limit)
    written = write_pack(ledger=tmp_path, files={"a.json": b"x"}, build_index=_index, name=target)
    assert written.path == target
    assert sorted(p.name for p in target.iterdir()) == ["a.json", "evidence_pack.json"]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no staging left


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_ledger_is_a_clear_error(tmp_path: Path) -> None:
    ledger = tmp_path / "ro"
    ledger.mkdir(mode=0o555)
    with pytest.raises(EvidenceWriteError, match="cannot write"):
        _write(ledger)


def test_ledger_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(EvidenceWriteError, match="cannot create"):
        _write(blocker / "ledger")


def _concurrent_writer(ledger: str) -> None:
    _write(Path(ledger))


def test_concurrent_writers_get_distinct_contiguous_sequences(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_concurrent_writer, args=(str(ledger),)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    indexes = [json.loads((p / "evidence_pack.json").read_bytes()) for p in ledger.iterdir()]
    assert sorted(i["sequence"] for i in indexes) == [1, 2, 3, 4, 5, 6]
    by_sequence = {i["sequence"]: i for i in indexes}
    for sequence in range(2, 7):
        assert by_sequence[sequence]["previous_pack_id"] == f"EVP-T-{sequence - 1:03d}"
    assert not [p for p in ledger.iterdir() if p.name.startswith(".")]


def test_the_operator_output_states_the_status_the_index_records(tmp_path: Path) -> None:
    """The pack's status, SoD and scope results are given once (``PackContent``); a
    report built with another status cannot make operator_output.md disagree."""
    from aiops.evidence.verify import verify_pack
    from tests.evidence.builders import model_pack

    pack = model_pack(tmp_path / "packs" / "p", report_status="REJECTED")
    assert "**Status:** COMPLETED" in (pack / "operator_output.md").read_text()
    assert verify_pack(pack).verified


def test_the_chain_head_is_read_as_the_verifier_reads_it(tmp_path: Path) -> None:
    """An index the verifier refuses (a link out of the pack, a sequence that is not an
    integer) is never chained from, nor skipped: the ledger is refused, naming the pack,
    since the sequence it holds cannot be known and could be reused."""
    ledger = tmp_path / "ledger"
    _write(ledger)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(pack_json({"evidence_pack_id": "EVP-X-041", "sequence": 41}))
    linked = ledger / "L2_LINKED"
    linked.mkdir()
    (linked / "evidence_pack.json").symlink_to(elsewhere)
    with pytest.raises(EvidenceWriteError, match="'L2_LINKED' has no readable evidence_pack"):
        chain_head(ledger)
    linked.joinpath("evidence_pack.json").unlink()
    linked.rmdir()
    boolean = ledger / "L2_BOOLEAN"
    boolean.mkdir()
    (boolean / "evidence_pack.json").write_bytes(
        pack_json({"evidence_pack_id": "EVP-X-true", "sequence": True})
    )
    with pytest.raises(EvidenceWriteError, match="'L2_BOOLEAN' has no valid sequence"):
        _write(ledger)
    assert sorted(p.name for p in ledger.iterdir()) == [
        "L2_BOOLEAN",
        "L2_MARKET_OUTLOOK_2026-01-10_001",
    ]


def test_the_head_check_never_reads_outside_the_pack(tmp_path: Path) -> None:
    """The head's listed files are read to check their digests: a name that leaves the
    pack is refused, never followed."""
    ledger = tmp_path / "ledger"
    head = _write(ledger)
    outside = tmp_path / "outside.json"
    outside.write_bytes(b"x")

    def point_outside(index: bytes) -> bytes:
        doc = json.loads(index)
        doc["artifacts"][0]["name"] = "../../outside.json"
        return pack_json(doc)

    (head / "evidence_pack.json").write_bytes(
        point_outside((head / "evidence_pack.json").read_bytes())
    )
    with pytest.raises(EvidenceWriteError, match="lists '../../outside.json', not a file in it"):
        chain_head(ledger)
