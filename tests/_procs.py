"""Run one Python snippet in N real processes at once.

Each child runs the snippet's set-up (imports), calls ``start()`` — which reports it is
ready and waits for the common start signal — and then does its work, so the work of
all children overlaps as much as the machine allows.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

PRELUDE = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
worker = int(sys.argv[1])

def start():
    Path(f"ready-{{worker}}").touch()
    while not Path("go").exists():
        time.sleep(0.001)
"""


def run_concurrently(code: str, processes: int, cwd: Path, timeout: float = 60) -> list[str]:
    """Start ``processes`` copies of ``code`` (``worker`` = 0..N-1), release them together
    once all are ready, return each one's stdout; fail on any non-zero exit."""
    script = PRELUDE.format(repo=str(REPO)) + code
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(n)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    give_up = time.monotonic() + timeout
    while not all((cwd / f"ready-{n}").exists() for n in range(processes)):
        if time.monotonic() > give_up or any(c.poll() is not None for c in children):
            break  # a child died early: communicate() below reports it
        time.sleep(0.01)
    (cwd / "go").touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err
        outputs.append(out)
    return outputs
