"""The progress line: redrawn in place on a terminal, result lines only elsewhere."""

from __future__ import annotations

import io

from aiops.call_progress import CallProgressLine
from aiops.providers.base import Attempt, CallProgress


def _events(result: Attempt | None) -> list[CallProgress]:
    return [
        CallProgress("proposer", "gpt-5.2-pro", 2, "started"),
        CallProgress("proposer", "gpt-5.2-pro", 2, "waiting", "in_progress"),
        CallProgress("proposer", "gpt-5.2-pro", 2, "waiting", "streaming", tokens=42),
        CallProgress("proposer", "gpt-5.2-pro", 2, "finished", result=result),
    ]


RATE_LIMITED = Attempt("gpt-5.2-pro", "http://x/v1/responses", 429, "rate_limit", "m", 1500)


def test_a_terminal_sees_the_line_redrawn_then_the_result() -> None:
    out = io.StringIO()
    line = CallProgressLine(out, live=True, monotonic=iter([0.0, 1.0, 2.0, 75.0, 80.0]).__next__)
    for event in _events(RATE_LIMITED):
        line(event)
    text = out.getvalue()
    assert "\r\x1b[K… proposer gpt-5.2-pro attempt 2 · 0:02 · in progress" in text
    assert "attempt 2 · 1:15 · streaming · 42 pieces streamed" in text
    assert text.endswith("\r\x1b[Kproposer gpt-5.2-pro attempt 2: rate_limit, HTTP 429, 1.5 s\n")


def test_elsewhere_only_the_result_line_is_written() -> None:
    out = io.StringIO()
    line = CallProgressLine(out, live=False)
    for event in _events(RATE_LIMITED):
        line(event)
    assert out.getvalue() == "proposer gpt-5.2-pro attempt 2: rate_limit, HTTP 429, 1.5 s\n"


def test_an_interrupted_call_says_so() -> None:
    out = io.StringIO()
    line = CallProgressLine(out, live=False, monotonic=iter([10.0, 13.25]).__next__)
    line(_events(None)[0])
    line(_events(None)[-1])
    assert out.getvalue() == "proposer gpt-5.2-pro attempt 2: interrupted after 3.2 s\n"


def test_a_closed_stderr_does_not_stop_the_run() -> None:
    out = io.StringIO()
    out.close()
    line = CallProgressLine(out, live=True)
    for event in _events(RATE_LIMITED):
        line(event)  # nothing raised
