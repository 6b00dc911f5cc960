"""The terminal's view of model calls in flight (stderr only; never the pack).

On a terminal, one line redrawn in place while a call runs: the role and model, the
attempt, the time so far, the provider's status and, where a stream gives it, the
pieces received so far. Each attempt then ends with one line saying how it went. On a
stderr that is not a terminal (a log file, a pipe, CI) only those one-line results are
written. Nothing here goes to stdout, and nothing here is read back by a run: the
pack is the same whatever was shown.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from aiops.providers.base import CallProgress

REDRAW_SECONDS = 0.5


class CallProgressLine:
    """A ``ProgressSink`` writing to ``stream``; ``live`` redraws a line in place."""

    def __init__(
        self, stream: TextIO, live: bool, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._live = live
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._current: CallProgress | None = None
        self._since = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, event: CallProgress) -> None:
        if event.phase == "started":
            with self._lock:
                self._current, self._since = event, self._monotonic()
            self._start_ticker()
        elif event.phase == "waiting":
            with self._lock:
                self._current = event
        else:
            self._stop_ticker()
            with self._lock:
                elapsed = self._monotonic() - self._since
                self._current = None
                self._write(("\r\x1b[K" if self._live else "") + _result(event, elapsed) + "\n")
            return
        self._redraw()

    def _start_ticker(self) -> None:
        if not self._live or self._ticker is not None:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join(timeout=2)
            self._ticker = None

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self._redraw()

    def _redraw(self) -> None:
        if not self._live:
            return
        with self._lock:
            event = self._current
            if event is not None:
                self._write("\r\x1b[K" + _running(event, self._monotonic() - self._since))

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr: the run goes on
            pass


def _who(event: CallProgress) -> str:
    return f"{event.role} {event.model_id} attempt {event.attempt_no}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _running(event: CallProgress, elapsed: float) -> str:
    parts = [f"… {_who(event)}", _clock(elapsed)]
    if event.status:
        parts.append(event.status.replace("_", " "))
    if event.tokens:
        parts.append(f"{event.tokens} pieces streamed")
    return " · ".join(parts)


def _result(event: CallProgress, elapsed: float) -> str:
    attempt = event.result
    if attempt is None:
        return f"{_who(event)}: interrupted after {elapsed:.1f} s"
    status = f", HTTP {attempt.http_status}" if attempt.http_status is not None else ""
    outcome = "ok" if attempt.error_class is None else attempt.error_class
    return f"{_who(event)}: {outcome}{status}, {attempt.latency_ms / 1000:.1f} s"


def call_progress() -> CallProgressLine:
    """The progress sink for a live or record run: stderr, live when it is a terminal."""
    return CallProgressLine(sys.stderr, sys.stderr.isatty())
