"""Fixture files are written atomically and never clobbered without --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.errors import OutputExistsError
from aiops.providers.recording import check_fixture_target, write_fixture


def test_write_creates_parents_and_leaves_no_temporary_file() -> None:
    write_fixture(Path("a/b/f.json"), b"{}\n", force=False)
    assert Path("a/b/f.json").read_bytes() == b"{}\n"
    assert [p.name for p in Path("a/b").iterdir()] == ["f.json"]


def test_existing_fixture_is_kept_without_force() -> None:
    Path("f.json").write_text("old")
    with pytest.raises(OutputExistsError, match="--force"):
        check_fixture_target(Path("f.json"), force=False)
    # The file appearing between the check and the write is still not clobbered.
    with pytest.raises(OutputExistsError):
        write_fixture(Path("f.json"), b"new", force=False)
    assert Path("f.json").read_text() == "old"
    assert [p.name for p in Path.cwd().iterdir()] == ["f.json"]


def test_force_replaces() -> None:
    Path("f.json").write_text("old")
    check_fixture_target(Path("f.json"), force=True)
    write_fixture(Path("f.json"), b"new", force=True)
    assert Path("f.json").read_text() == "new"


def test_directory_is_refused() -> None:
    Path("d").mkdir()
    with pytest.raises(OutputExistsError, match="is a directory"):
        check_fixture_target(Path("d"), force=True)
