"""Two steps every evidence writer needs: write all the bytes, and make a rename or a
link in a directory durable. Light on purpose: the verifier imports ``review``."""

from __future__ import annotations

import os
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """Write every byte: ``os.write`` may write fewer than it is given."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries, so a file renamed or linked into it survives a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
