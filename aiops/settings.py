"""Environment settings. Secrets are never read here: provider keys are read by name
from the registry's ``api_key_env`` only where the HTTP header is built."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``AIOPS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="AIOPS_", extra="ignore")

    config_dir: Path | None = None
    packs_dir: Path = Path("evidence_packs")
    signing_key: Path | None = None

    @field_validator("config_dir", "signing_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value
