"""What every evidence writer needs: its directories made, a temporary name beside the
target, all the bytes written, a rename or link in a directory made durable, and the
temporary file removed whatever happened. Light on purpose: the verifier imports
``review``."""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

# Directories aiops makes (a ledger, logs/, a fixture's directory): never writable by
# everyone, whatever the umask; group write follows the umask (a team's shared group).
DIRECTORY_MODE = 0o775

# A temporary name carries at most this many bytes of its target's name: the target's
# own name may be at the file system's limit (255 bytes) already.
_NAME_PART = 64


def make_dirs(directory: Path, mode: int = DIRECTORY_MODE) -> list[Path]:
    """``mkdir -p`` giving every directory made ``mode`` less the umask. (``Path.mkdir``
    with ``parents=True`` gives the parents 0777 less the umask: writable by everyone
    under ``umask 000``.) Returns the directories made, outermost first; one made by
    another process meanwhile is fine."""
    if directory.is_dir():
        return []
    made = [] if directory.parent == directory else make_dirs(directory.parent, mode)
    try:
        directory.mkdir(mode=mode)
    except FileExistsError:
        if not directory.is_dir():
            raise
        return made
    return [*made, directory]


def staging_path(target: Path) -> Path:
    """A hidden name beside ``target`` (same directory, so same file system), unique to
    this process and attempt: ``.tmp-<name>-<pid>-<random>``. The name is cut short in
    bytes, which is what the limit counts (a character may take four)."""
    part = os.fsdecode(os.fsencode(target.name)[:_NAME_PART])
    return target.with_name(f".tmp-{part}-{os.getpid()}-{secrets.token_hex(4)}")


def discard(path: Path) -> None:
    """Remove a temporary file if it is there. Failing to is never the error to report
    (the write that failed before it is), so nothing is raised."""
    with suppress(OSError):
        os.unlink(path)


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
