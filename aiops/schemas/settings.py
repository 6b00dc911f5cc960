"""What ``aiops settings --json`` prints (``aiops schema settings`` exports it): the
effective settings and where each came from, and for each provider key variable only
where it was found, never its value."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict
from aiops.schemas.pilot import OutputFormat

SettingSource = Literal["command line", "environment", "env file", "default"]
KeySource = Literal["environment", "env file", "secrets dir"]


class SettingRow(Strict):
    variable: str  # e.g. AIOPS_PACKS_DIR
    value: str | None  # a path; never a secret
    source: SettingSource


class KeyRow(Strict):
    variable: str  # the registry's api_key_env, e.g. OPENAI_API_KEY
    providers: list[str]
    required: bool
    source: KeySource | None  # None: not set anywhere


class SettingsOutput(Strict):
    format: OutputFormat = OutputFormat(name="aiops-settings", version=1)
    env_file: str | None
    secrets_dir: str | None
    config_dir: str
    settings: list[SettingRow]
    keys: list[KeyRow]
