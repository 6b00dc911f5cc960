"""Per-model request rate limits shared by every aiops process on the machine.

The registry's ``rate_limit_rpm`` is enforced over a sliding 60-second window. The
window lives in ``logs/ratelimit/<model>.json`` under the working directory (the same
place as the other runtime state), read and rewritten under an exclusive ``flock`` on
that file, so concurrent runs from one directory share it. ``acquire`` takes a slot,
waiting until the oldest request in the window is 60 s old when the window is full.

The window uses the wall clock (``time.time``), which all processes share; it is not
the run clock, so ``SOURCE_DATE_EPOCH`` does not affect it. A state file that cannot
be parsed (a crash mid-write) is treated as an empty window: the provider's own 429
and our retries cover the one window that may briefly exceed the limit.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from aiops.providers.base import ProviderCallError

WINDOW_SECONDS = 60.0
DEFAULT_DIRECTORY = Path("logs") / "ratelimit"
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
    path = (directory or Path.cwd() / DEFAULT_DIRECTORY) / f"{_safe(model_id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
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


def _try_take(path: Path, model_id: str, rpm: int, clock: Callable[[], float]) -> float:
    """Record a request now if the window has room (return 0), else return how long
    until the oldest request leaves the window. The time is read under the lock, so
    the window's entries are in the order they were taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now = clock()
        window = [t for t in _read(fd) if t > now - WINDOW_SECONDS]
        if len(window) >= rpm:
            return max(window[-rpm] + WINDOW_SECONDS - now, 0.001)
        window.append(now)
        data = json.dumps({"model_id": model_id, "window": window}).encode("utf-8")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        return 0.0
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
