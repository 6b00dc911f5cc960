"""Run Python code in a child process whose files cannot grow past a size limit.

``RLIMIT_FSIZE`` is how a full disk looks to a process without root: a write that
would pass the limit is cut short at it, and the next one fails with ``EFBIG`` ("File
too large") — provided ``SIGXFSZ``, which would otherwise kill the process, is ignored.
Any user may lower their own limit, so these tests need no privileges.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def run_with_file_size_limit(
    code: str, limit: int, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` (with the checkout importable) where no file may grow past
    ``limit`` bytes."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n{code}"],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        preexec_fn=limit_file_size,
        capture_output=True,
        text=True,
        timeout=60,
    )
