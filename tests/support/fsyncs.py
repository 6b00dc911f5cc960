"""Record what ``os.fsync`` is called on, while still calling it.

The thing under test is the call itself (a durable append fsyncs before it returns),
so each call is noted as the inode it flushed and, for a watched file, its bytes at
that moment and whether another descriptor could have locked it (``False`` while the
appender still holds the lock).
"""

from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Fsync:
    inode: int
    content: bytes = b""  # a watched file's bytes when it was fsynced
    lockable: bool | None = None  # could another descriptor lock the watched file then?


@dataclass
class FsyncRecorder:
    watch: list[Path] = field(default_factory=list)  # files whose content and lock are noted
    calls: list[Fsync] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FsyncRecorder:
        real = os.fsync

        def fsync(fd: int) -> None:
            self.calls.append(self._note(os.fstat(fd)))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        return self

    def of(self, path: Path) -> list[Fsync]:
        """The calls that flushed ``path`` (file or directory)."""
        inode = path.stat().st_ino
        return [call for call in self.calls if call.inode == inode]

    def _note(self, info: os.stat_result) -> Fsync:
        for path in self.watch:
            if stat.S_ISREG(info.st_mode) and path.exists() and path.stat().st_ino == info.st_ino:
                return Fsync(info.st_ino, path.read_bytes(), _lockable(path))
        return Fsync(info.st_ino)


def _lockable(path: Path) -> bool:
    """Whether a second, independent descriptor of ``path`` can take its lock."""
    other = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(other)  # closing releases the lock if it was taken
    return True
