"""Append-only JSON-lines files shared by concurrent aiops processes.

Each record is one line of canonical JSON. It is written with ``os.write`` calls of
the whole line on an ``O_APPEND`` descriptor while holding an exclusive ``flock`` on
that file, so lines are whole and never interleaved across processes, and a reader
holding the same lock sees a consistent file (the spend ledger checks and reserves
under one lock).

Every append is durable before the lock is released: the file is fsynced after the
line is written, so a line that was appended (an attempt paid for, a reservation held)
survives a power loss once the caller has gone on. The file's directory entry is made
durable too: the process that writes a file's first line fsyncs the directory after
it (whoever created the file), and a directory aiops creates for the file is fsynced
into its parent as it is made.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from aiops.canonical import canonical_json
from aiops.evidence.durable import fsync_dir, make_dirs, write_all


class LockedLines:
    """An open, exclusively locked JSON-lines file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def read(self) -> list[tuple[int, Any]]:
        """``(line number, parsed value)`` for each non-empty line; raises ValueError
        naming the line when one is not JSON."""
        records: list[tuple[int, Any]] = []
        text = _read_all(self._fd).decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except ValueError:
                raise ValueError(f"line {number} is not JSON") from None
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        """Write the whole line and fsync the file (the lock is still held: a short
        write is completed first, so the line stays whole). A write that fails part-way
        (a full disk, a file size limit) is cut off again, so the file keeps only whole
        lines: a torn last line would make every later reader fail."""
        size = os.fstat(self._fd).st_size
        try:
            write_all(self._fd, canonical_json(dict(record)) + b"\n")
        except BaseException:  # an I/O error, or an interrupt between two writes
            with suppress(OSError):
                os.ftruncate(self._fd, size)
            raise
        os.fsync(self._fd)
        if size == 0:  # the file may be new: its directory entry must survive too
            fsync_dir(self.path.parent)


@contextmanager
def locked_lines(path: Path) -> Iterator[LockedLines]:
    """Open (creating it and its directory, mode 0600) and lock ``path`` exclusively.
    The path comes from the configuration: it must be a regular file (a FIFO would
    block every reader, ``/dev/zero`` never ends), refused as an ``OSError``."""
    _make_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield LockedLines(path, fd)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read_all(fd: int) -> bytes:
    """The whole file behind ``fd`` (a regular file, locked), from its start."""
    parts = []
    offset = 0
    while chunk := os.pread(fd, 1024 * 1024, offset):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def append_line(path: Path, record: Mapping[str, Any]) -> None:
    with locked_lines(path) as lines:
        lines.append(record)


def _make_dirs(directory: Path) -> None:
    """``mkdir -p``, fsyncing the parent of each directory made, so it survives a crash
    (one made by another process meanwhile is fsynced into its parent by that one)."""
    for made in make_dirs(directory):
        fsync_dir(made.parent)
