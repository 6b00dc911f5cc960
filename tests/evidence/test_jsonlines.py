"""Durable JSON-lines appends: whole line, fsynced under the lock, directory too."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from aiops.canonical import canonical_json
from aiops.evidence.jsonlines import append_line, locked_lines
from tests.support.fsyncs import FsyncRecorder
from tests.support.limits import run_with_file_size_limit


def test_append_fsyncs_the_whole_line_before_the_lock_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "logs" / "calls.jsonl"
    fsyncs = FsyncRecorder(watch=[path]).install(monkeypatch)
    append_line(path, {"n": 1, "pad": "x" * 100_000})  # far beyond one page and PIPE_BUF
    append_line(path, {"n": 2})

    first, second = fsyncs.of(path)
    line1 = canonical_json({"n": 1, "pad": "x" * 100_000}) + b"\n"
    assert first.content == line1  # the whole line was written before the fsync
    assert second.content == line1 + canonical_json({"n": 2}) + b"\n"
    assert first.lockable is False and second.lockable is False  # still locked then
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and [json.loads(x)["n"] for x in raw.splitlines()] == [1, 2]


def test_first_line_fsyncs_the_new_file_into_its_directory_and_new_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a" / "b" / "calls.jsonl"
    fsyncs = FsyncRecorder().install(monkeypatch)
    append_line(path, {"n": 1})
    # a/ into tmp, b/ into a/, then the file's own entry in b/ after its first line.
    assert len(fsyncs.of(tmp_path)) == 1 and len(fsyncs.of(tmp_path / "a")) == 1
    assert len(fsyncs.of(path)) == 1 and len(fsyncs.of(path.parent)) == 1
    assert fsyncs.calls[-1].inode == path.parent.stat().st_ino  # after the file's fsync

    fsyncs.calls.clear()
    append_line(path, {"n": 2})
    assert [call.inode for call in fsyncs.calls] == [path.stat().st_ino]  # only the file


def test_the_first_line_in_an_empty_file_fsyncs_its_directory_whoever_created_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader (the spend ledger's totals) may create the file without writing to it.
    path = tmp_path / "spend.jsonl"
    with locked_lines(path) as lines:
        assert lines.read() == []
    fsyncs = FsyncRecorder().install(monkeypatch)
    append_line(path, {"n": 1})
    assert len(fsyncs.of(path)) == 1 and len(fsyncs.of(tmp_path)) == 1


def test_a_failed_fsync_is_an_error_not_a_silent_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output error"):
        append_line(tmp_path / "calls.jsonl", {"n": 1})


def test_a_line_cut_short_by_a_full_disk_is_removed_again(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "spend.jsonl"
    append_line(path, {"n": 1})
    whole = path.read_bytes()
    code = (
        "from pathlib import Path\n"
        "from aiops.evidence.jsonlines import append_line\n"
        f"append_line(Path({str(path)!r}), {{'n': 2, 'pad': 'x' * 500}})\n"
    )
    # The file may grow by 100 bytes: the line's first 100 are written, then EFBIG.
    child = run_with_file_size_limit(code, len(whole) + 100, tmp_path)
    assert child.returncode == 1
    assert child.stderr.splitlines()[-1] == f"OSError: [Errno {errno.EFBIG}] File too large"
    assert path.read_bytes() == whole  # no torn line for every later reader to trip on
    append_line(path, {"n": 3})
    with locked_lines(path) as lines:
        assert [record["n"] for _, record in lines.read()] == [1, 3]
