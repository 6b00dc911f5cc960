"""What the per-user caches (``aiops runs`` rows, the pilot report's verifications)
share: where they live, how a file is stamped and how a cache file is read and
written.

A file's stamp is its device, inode, size, modification and change times
(nanoseconds). Rewriting a file changes its change time even when the modification
time is restored (``os.utime`` cannot set the change time back), so an unchanged stamp
means an unchanged file in practice. A stamp taken within ``RACY_NS`` of when the cache
was written is not trusted: on a file system with coarse times a file could still have
changed within the same tick. A cache is a convenience, never evidence: one that does
not read is ignored, one that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

RACY_NS = 2_000_000_000  # 2 s

Stamp = list[int]


def cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/aiops/KIND``, else ``~/.cache/aiops/KIND``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aiops" / kind


def ledger_cache_file(kind: str, ledger: Path) -> Path:
    """The cache file of ``kind`` for one ledger (named by its absolute path's digest)."""
    key = hashlib.sha256(os.fsencode(os.path.abspath(ledger))).hexdigest()[:24]
    return cache_dir(kind) / f"{key}.json"


def stamp_of(info: os.stat_result) -> Stamp:
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def stamp(path: Path | str, dir_fd: int | None = None) -> Stamp | None:
    """The stamp of ``path`` (never following a link); ``None`` when it does not stat."""
    try:
        return stamp_of(os.stat(path, dir_fd=dir_fd, follow_symlinks=False))
    except OSError:
        return None


def now_ns() -> int:
    return time.time_ns()


def load_entries(path: Path, header: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The entries of the cache file at ``path`` and when it was written; nothing (and
    0) when it does not read or was written under another ``header``."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}, 0
    if (
        not isinstance(document, dict)
        or any(document.get(key) != value for key, value in header.items())
        or not isinstance(document.get("entries"), dict)
    ):
        return {}, 0
    written = document.get("written_ns")
    written_ns = written if isinstance(written, int) and not isinstance(written, bool) else 0
    entries: dict[str, Any] = document["entries"]
    return entries, written_ns


def save_entries(path: Path, header: dict[str, Any], entries: dict[str, Any]) -> None:
    """Replace the cache file atomically (a temporary file, then a rename); private to
    the user. Any failure leaves no cache, never a partial one."""
    document = {**header, "written_ns": now_ns(), "entries": entries}
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            # one dumps: json.dump encodes in pure Python, ten times slower on 10,000 packs
            out.write(json.dumps(document, separators=(",", ":")))
        os.replace(temporary, path)
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
