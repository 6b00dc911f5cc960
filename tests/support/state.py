"""The test's budget state directory (``XDG_STATE_HOME``, set per test by conftest)."""

from __future__ import annotations

import os
from pathlib import Path


def spend_ledger() -> Path:
    """Where the spend ledger of the shipped registry is, in this test."""
    return Path(os.environ["XDG_STATE_HOME"]) / "aiops" / "logs" / "spend_ledger.jsonl"
