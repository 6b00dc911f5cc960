"""Append-only JSON-lines files shared by concurrent aiops processes.

Each record is one line of canonical JSON. It is written with a single ``os.write`` of
the whole line on an ``O_APPEND`` descriptor while holding an exclusive ``flock`` on
that file, so lines are whole and never interleaved across processes, and a reader
holding the same lock sees a consistent file (the spend ledger checks and reserves
under one lock).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiops.canonical import canonical_json
from aiops.evidence.durable import write_all


class LockedLines:
    """An open, exclusively locked JSON-lines file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def read(self) -> list[tuple[int, Any]]:
        """``(line number, parsed value)`` for each non-empty line; raises ValueError
        naming the line when one is not JSON."""
        records: list[tuple[int, Any]] = []
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except ValueError:
                raise ValueError(f"line {number} is not JSON") from None
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        # A short write is completed before the lock is released: the line stays whole.
        write_all(self._fd, canonical_json(dict(record)) + b"\n")


@contextmanager
def locked_lines(path: Path) -> Iterator[LockedLines]:
    """Open (creating it and its directory, mode 0600) and lock ``path`` exclusively."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield LockedLines(path, fd)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def append_line(path: Path, record: Mapping[str, Any]) -> None:
    with locked_lines(path) as lines:
        lines.append(record)
