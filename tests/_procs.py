"""Run one Python snippet in N real processes at once (released together by a file)."""

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
while not Path("go").exists():
    time.sleep(0.005)
"""


def run_concurrently(code: str, processes: int, cwd: Path, timeout: float = 60) -> list[str]:
    """Start ``processes`` copies of ``code`` (``worker`` = 0..N-1), release them at once,
    return each one's stdout; fail on any non-zero exit."""
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
    time.sleep(0.3)  # let them all reach the start line
    (cwd / "go").touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err
        outputs.append(out)
    return outputs
