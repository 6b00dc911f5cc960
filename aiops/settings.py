"""Environment settings (``AIOPS_*``). Secrets are never read here: provider keys are
read by name from the registry's ``api_key_env`` only where the HTTP header is built.

Three path variables do not need a settings framework; reading them directly keeps
pydantic-settings (about 100 ms of imports) off the start-up of every run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aiops.errors import UsageError


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "")
    return Path(value) if value else None  # empty means unset


@dataclass(frozen=True)
class Settings:
    """``AIOPS_CONFIG_DIR``, ``AIOPS_PACKS_DIR``, ``AIOPS_SIGNING_KEY``; read when built."""

    config_dir: Path | None = field(default_factory=lambda: _env_path("AIOPS_CONFIG_DIR"))
    packs_dir: Path = field(
        default_factory=lambda: _env_path("AIOPS_PACKS_DIR") or Path("evidence_packs")
    )
    signing_key: Path | None = field(default_factory=lambda: _env_path("AIOPS_SIGNING_KEY"))


def working_directory() -> Path:
    """The working directory: runtime state (ledger, audit log, spend ledger) and
    inputs live under it. A directory removed while a shell was still in it has no
    path any more; that is a usage error, not a crash."""
    try:
        return Path.cwd()
    except OSError as exc:
        raise UsageError(
            f"the working directory cannot be used ({exc.strerror}; was it removed?): "
            "change to an existing directory and run again"
        ) from None
