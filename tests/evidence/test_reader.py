"""The typed reader behind review, drift and the pilot report parses as strictly as
verify-pack: a file verify-pack refuses is never read as if it were fine."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.errors import PackReadError
from aiops.evidence.reader import load_pack


def _duplicate_first_key(path: Path, key: str) -> None:
    """Repeat ``key`` (with another value) before its first occurrence: a JSON parser
    that keeps the last value reads the original."""
    text = path.read_text()
    assert f'"{key}": ' in text
    path.write_text(text.replace(f'"{key}": ', f'"{key}": "forged",\n  "{key}": ', 1))


def test_a_valid_pack_reads_without_problems(pack: Path) -> None:
    view = load_pack(pack)
    assert view.problems == []
    assert view.proposer is not None and view.critic is not None


def test_an_index_with_a_duplicate_key_is_not_a_pack(pack: Path) -> None:
    _duplicate_first_key(pack / "evidence_pack.json", "run_id")
    with pytest.raises(PackReadError, match="duplicate key 'run_id'"):
        load_pack(pack)


def test_an_output_with_a_duplicate_key_is_a_problem_not_a_value(pack: Path) -> None:
    _duplicate_first_key(pack / "critic_output.json", "decision")
    view = load_pack(pack)
    assert view.critic is None
    assert view.problems == ["critic_output.json: duplicate key 'decision'"]


def test_a_linked_file_is_never_followed_out_of_the_pack(pack: Path, tmp_path: Path) -> None:
    """A pack file that is a symbolic link (here to a well-formed copy outside the
    pack) is refused as verify-pack refuses it, not read through."""
    outside = tmp_path / "outside.json"
    outside.write_bytes((pack / "critic_output.json").read_bytes())
    (pack / "critic_output.json").unlink()
    (pack / "critic_output.json").symlink_to(outside)
    view = load_pack(pack)
    assert view.critic is None
    assert view.problems == ["critic_output.json: is a symbolic link"]


def test_a_linked_index_is_not_a_pack(pack: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes((pack / "evidence_pack.json").read_bytes())
    (pack / "evidence_pack.json").unlink()
    (pack / "evidence_pack.json").symlink_to(outside)
    with pytest.raises(PackReadError, match="is a symbolic link"):
        load_pack(pack)


def test_a_missing_pack_is_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(PackReadError, match="is not an evidence pack"):
        load_pack(tmp_path / "nowhere")
