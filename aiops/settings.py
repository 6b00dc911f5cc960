"""Environment settings (``AIOPS_*``). Secrets are never read here: provider keys are
looked up by the registry's ``api_key_env`` names in ``aiops.secret_sources``.

Without an env file the three path variables are read directly, which keeps
pydantic-settings off the start-up of commands that need nothing else; with one
(``--env-file``, ``AIOPS_ENV_FILE``) ``aiops.env_settings`` builds them.
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


def settings_for_run(env_file: Path | None) -> Settings | None:
    """The settings with an env file's ``AIOPS_*`` values when one is named
    (``--env-file`` or ``AIOPS_ENV_FILE``), else none: the command builds them from the
    environment alone, without loading pydantic-settings."""
    from aiops.secret_sources import env_file_named

    named = env_file_named(env_file)
    if named is None:
        return None
    from aiops.env_settings import load_settings

    return load_settings(named).as_settings()


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
