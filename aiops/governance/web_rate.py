"""The scope's ``rate_limit_per_hour`` for web searches, shared by every run of the desk.

One window per scope, ``web_search/<scope_id>.json`` in the budget state directory
(``aiops.governance.state``, where the spend ledger and the model rate-limit windows
live), read and rewritten under an exclusive ``flock``, so concurrent runs and
processes count against one hourly limit wherever they start.

A call may make up to ``max_tool_calls`` searches and we learn how many only from its
answer, so the window works like the spend ledger: before the call, ``reserve`` holds
the call's cap — or refuses (``WebSearchLimitError``, exit 2) when the searches of the
last hour plus that cap would pass the limit; nothing is sent. After the call,
``settle`` replaces the hold with the searches made (the ``web_search_call`` items of
the answer); a failed attempt (no usable answer, not billed) settles to none. A hold
whose process died stays: it leaves the window an hour after it was made. The window
uses the wall clock (``time.time``), like the model rate limits; ``SOURCE_DATE_EPOCH``
does not move it. A window file that cannot
be read is refused, not reset: the hourly promise would otherwise be broken silently.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiops.errors import BudgetExceededError
from aiops.evidence.durable import write_all

WINDOW_SECONDS = 3600.0


class WebSearchLimitError(BudgetExceededError):
    """A call's searches would pass the scope's hourly limit: refused before sending."""


def window_path(directory: Path, scope_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in scope_id).lstrip(".")
    return directory / "web_search" / f"{safe or '_'}.json"


def reserve(path: Path, limit: int, count: int, clock: Callable[[], float] = time.time) -> str:
    """Hold ``count`` searches in the window; returns the hold's id."""
    hold = secrets.token_hex(8)

    def take(window: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        used = sum(int(entry["n"]) for entry in window)
        if used + count > limit:
            oldest = min((float(e["t"]) for e in window), default=now)
            raise WebSearchLimitError(
                f"web search limit: this call may make up to {count} searches and "
                f"{used} of the scope's {limit} per hour are used or held (next frees at "
                f"about {max(oldest + WINDOW_SECONDS - now, 0):.0f} s from now); refused "
                "before sending"
            )
        return [*window, {"id": hold, "t": now, "n": count}]

    _update(path, take, clock)
    return hold


def settle(path: Path, hold: str, made: int, clock: Callable[[], float] = time.time) -> None:
    """Replace the hold with the searches the call made."""

    def replace(window: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        return [{**e, "n": made} if e["id"] == hold else e for e in window]

    _update(path, replace, clock)


def _update(
    path: Path,
    change: Callable[[list[dict[str, Any]], float], list[dict[str, Any]]],
    clock: Callable[[], float],
) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unusable(path, exc.strerror or str(exc)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now = clock()
        window = [e for e in _read(fd, path) if float(e["t"]) > now - WINDOW_SECONDS]
        data = json.dumps({"window": change(window, now)}).encode("utf-8")
        # Written over the old window, then cut to its length (cheaper than emptying
        # the file first, which makes ext4 flush it): a crash before the fsync leaves
        # the old window, or bytes that do not parse (refused), never an empty one.
        os.lseek(fd, 0, os.SEEK_SET)
        write_all(fd, data)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    except OSError as exc:
        raise _unusable(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)  # releases the lock


def _read(fd: int, path: Path) -> list[dict[str, Any]]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return []
    try:
        window = json.loads(raw)["window"]
        for entry in window:
            float(entry["t"]), int(entry["n"]), str(entry["id"])
    except (ValueError, TypeError, KeyError):
        raise _unusable(path, "not a web-search window") from None
    return list(window)


def _unusable(path: Path, problem: str) -> WebSearchLimitError:
    return WebSearchLimitError(
        f"web search window {path}: {problem}; the searches of the last hour are unknown, refusing"
    )
