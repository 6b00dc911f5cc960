"""Per-model request rate limits shared by every aiops process on the machine.

The registry's ``rate_limit_rpm`` is enforced over a sliding 60-second window. The
window lives in one file per model, ``<model>.json``, read and rewritten under an
exclusive ``flock`` on that file, so every aiops process of the user on the machine
shares it, whatever its working directory. The directory is ``AIOPS_RATELIMIT_DIR``
when set, else the one the caller passes (runs pass ``ratelimit/`` in the desk's budget
state directory, ``aiops.governance.state``), else ``$XDG_RUNTIME_DIR/aiops-<uid>/ratelimit``
or ``<tmp>/aiops-<uid>/ratelimit``, of mode 0700 and owned by the user (one that is not is
refused rather than trusted). Unlike evidence, audit and spend records,
this is coordination state, so it is machine-wide, not per working directory.
``acquire`` takes a slot, waiting until the oldest request in the window is 60 s old
when the window is full.

The window uses the wall clock (``time.time``), which all processes share; it is not
the run clock, so ``SOURCE_DATE_EPOCH`` does not affect it. A state file that cannot
be parsed (a crash mid-write) is treated as an empty window: the provider's own 429
and our retries cover the one window that may briefly exceed the limit.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiops.evidence.durable import write_all
from aiops.providers.base import ProviderCallError

WINDOW_SECONDS = 60.0
RATE_LIMIT_WAIT = "rate_limit_wait"


def acquire(
    model_id: str,
    rpm: int,
    *,
    directory: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    max_wait_s: float | None = None,
) -> float:
    """Take one request slot for ``model_id``; returns the seconds waited.

    Raises ``ProviderCallError`` (not retryable, no fallback: the run deadline is the
    usual ``max_wait_s``) when no slot frees up within ``max_wait_s``.
    """
    if rpm <= 0:
        raise ValueError("rpm must be positive")
    chosen = directory or default_directory()
    _private_directory(chosen, owned_parent=directory is None and not _explicit())
    path = chosen / f"{_safe(model_id)}.json"
    waited = 0.0
    while True:
        wait = _try_take(path, model_id, rpm, clock)
        if wait <= 0:
            return waited
        if max_wait_s is not None and waited + wait > max_wait_s:
            raise ProviderCallError(
                f"{model_id}: rate limit of {rpm} requests/minute would need a "
                f"{waited + wait:.1f} s wait, more than the {max_wait_s:.1f} s left",
                error_class=RATE_LIMIT_WAIT,
                retryable=False,
                fallback_ok=False,
            )
        sleep(wait)
        waited += wait


def _explicit() -> bool:
    return bool(os.environ.get("AIOPS_RATELIMIT_DIR"))


def default_directory() -> Path:
    """Where the windows live: ``AIOPS_RATELIMIT_DIR``, else a per-user directory."""
    if _explicit():
        return Path(os.environ["AIOPS_RATELIMIT_DIR"])
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"aiops-{os.getuid()}" / "ratelimit"


def _private_directory(directory: Path, *, owned_parent: bool) -> None:
    """Create ``directory`` as 0700; refuse one that is a link or belongs to another
    user, since its contents decide when we may send. For the default location in a
    shared temporary directory, its parent ``aiops-<uid>`` is held to the same rule."""
    try:
        if owned_parent:
            directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        infos = [
            (path, os.lstat(path))
            for path in ((directory.parent, directory) if owned_parent else (directory,))
        ]
    except OSError as exc:  # a stale XDG_RUNTIME_DIR, a file in the way, no permission
        raise _unusable(
            f"rate-limit state directory {directory} cannot be created: {exc.strerror}; "
            "set AIOPS_RATELIMIT_DIR to a directory of yours"
        ) from None
    for path, info in infos:
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise _unusable(
                f"rate-limit state directory {path} is not a directory owned by this user; "
                "remove it or set AIOPS_RATELIMIT_DIR"
            )


def _unusable(message: str) -> ProviderCallError:
    """The shared window cannot be kept, so no slot can be taken: nothing is sent."""
    return ProviderCallError(
        message, error_class=RATE_LIMIT_WAIT, retryable=False, fallback_ok=False
    )


def _try_take(path: Path, model_id: str, rpm: int, clock: Callable[[], float]) -> float:
    """Record a request now if the window has room (return 0), else return how long
    until the oldest request leaves the window. The time is read under the lock, so
    the window's entries are in the order they were taken."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unusable(f"rate-limit state {path} cannot be opened: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now = clock()
        window = [t for t in _read(fd) if t > now - WINDOW_SECONDS]
        if len(window) >= rpm:
            return max(window[-rpm] + WINDOW_SECONDS - now, 0.001)
        window.append(now)
        data = json.dumps({"model_id": model_id, "window": window}).encode("utf-8")
        # Written over the old window, then cut to its length: truncating a file to
        # nothing and writing it again makes ext4 start flushing it (a crash mid-write
        # leaves a window that does not parse either way: read as empty, see above).
        os.lseek(fd, 0, os.SEEK_SET)
        write_all(fd, data)  # a short write would leave a window nobody can read
        os.ftruncate(fd, len(data))
        return 0.0
    except OSError as exc:  # a full disk: the request could not be counted
        raise _unusable(f"rate-limit state {path} cannot be written: {exc.strerror}") from None
    finally:
        os.close(fd)  # releases the lock


def _read(fd: int) -> list[float]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    try:
        raw = json.loads(b"".join(chunks) or b"{}")
        return sorted(float(t) for t in raw.get("window", []))
    except (ValueError, TypeError, AttributeError):
        return []


def _safe(model_id: str) -> str:
    """Registry ids are ``[a-z0-9._-]``; anything else cannot escape the directory."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in model_id)
    return cleaned.lstrip(".") or "_"
