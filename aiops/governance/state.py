"""Where the desk's budget state lives: the spend ledger and the rate-limit windows.

Budget state belongs to the operator, not to the directory a run starts in: every run
of the same operator counts against the same budget wherever it starts. The directory
is the registry's ``[budget] state_dir`` (an absolute path) when set, else the
per-user state directory ``$XDG_STATE_HOME/aiops`` (an absolute ``XDG_STATE_HOME``
only, as the XDG base-directory specification says), else ``~/.local/state/aiops``.
A relative ``[budget] spend_ledger`` resolves against it; an absolute one is used as
is. The rate-limit windows are ``<state dir>/ratelimit`` unless ``AIOPS_RATELIMIT_DIR``
says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiops.errors import UsageError
from aiops.schemas.registry import Budget


def user_state_directory() -> Path:
    base = os.environ.get("XDG_STATE_HOME", "")
    if base and Path(base).is_absolute():
        return Path(base) / "aiops"
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry
        raise UsageError(
            "no per-user state directory (HOME is not set): set XDG_STATE_HOME or "
            "[budget] state_dir in the registry"
        ) from None
    return home / ".local" / "state" / "aiops"


def budget_state_directory(budget: Budget) -> Path:
    return Path(budget.state_dir) if budget.state_dir else user_state_directory()


def spend_ledger_path(budget: Budget) -> Path:
    return budget_state_directory(budget) / budget.spend_ledger


def rate_limit_directory(budget: Budget) -> Path | None:
    """The windows' directory; ``None`` when ``AIOPS_RATELIMIT_DIR`` chooses it."""
    if os.environ.get("AIOPS_RATELIMIT_DIR"):
        return None
    return budget_state_directory(budget) / "ratelimit"
