"""The effective ``AIOPS_*`` settings, through pydantic-settings, and the sources of
the provider keys (``aiops.secret_sources``).

Loaded only by the commands that need them (model runs, ``aiops settings``):
pydantic-settings costs about 100 ms of imports, more than the whole start-up budget
of ``aiops --help`` and ``verify-pack``. Sources, highest first: the command line
(``--config-dir``, ``--env-file``), the environment (``AIOPS_*``, empty means unset),
the env file (only when named), the defaults. The env file is never read implicitly:
a ``./.env`` in a checkout is one ``git add .`` from being committed, so it is used
only when named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from aiops.secret_sources import (
    SecretSources,
    env_file_named,
    read_env_file,
    secrets_dir_from,
)
from aiops.settings import Settings

SettingSource = Literal["command line", "environment", "env file", "default"]
PREFIX = "AIOPS_"


class _EnvFileValues(PydanticBaseSettingsSource):
    """The ``AIOPS_*`` values of the env file already read (bounded reader)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, str]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(PREFIX + field_name.upper()), field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name, info in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(info, name)
            if value:
                found[name] = value
        return found


class AiopsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="forbid", frozen=True
    )

    config_dir: Path | None = None
    packs_dir: Path = Path("evidence_packs")
    signing_key: Path | None = None
    secrets_dir: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The env file is read by aiops (bounded, regular files only) and passed in;
        # pydantic-settings' own dotenv and secrets readers are not used.
        return (init_settings,)


@dataclass(frozen=True)
class LoadedSettings:
    settings: AiopsSettings
    sources: dict[str, SettingSource]  # field -> where its value came from
    secrets: SecretSources

    def as_settings(self) -> Settings:
        return Settings(
            config_dir=self.settings.config_dir,
            packs_dir=self.settings.packs_dir,
            signing_key=self.settings.signing_key,
        )


def load_settings(
    env_file: Path | None = None, *, config_dir: Path | None = None
) -> LoadedSettings:
    """The effective settings: ``env_file`` is the ``--env-file`` option (else
    ``AIOPS_ENV_FILE``), ``config_dir`` the ``--config-dir`` option."""
    named = env_file_named(env_file)
    file_values = read_env_file(named) if named is not None else {}
    file_source = _EnvFileValues(AiopsSettings, file_values)
    env_source = EnvSettingsSource(AiopsSettings, env_prefix=PREFIX, env_ignore_empty=True)
    from_env = env_source()
    from_file = file_source()
    merged: dict[str, Any] = {**from_file, **from_env}
    sources: dict[str, SettingSource] = {}
    for name in AiopsSettings.model_fields:
        if name in from_env:
            sources[name] = "environment"
        elif name in from_file:
            sources[name] = "env file"
        else:
            sources[name] = "default"
    if config_dir is not None:
        merged["config_dir"], sources["config_dir"] = config_dir, "command line"
    try:
        settings = AiopsSettings(**merged)
    except ValueError as exc:  # pydantic's ValidationError: one line, no value
        from aiops.errors import UsageError

        raise UsageError(f"the settings are not valid: {_first_problem(exc)}") from None
    secrets_dir = secrets_dir_from(str(settings.secrets_dir) if settings.secrets_dir else None)
    if secrets_dir is not None and settings.secrets_dir is None:
        settings = settings.model_copy(update={"secrets_dir": secrets_dir})
        sources["secrets_dir"] = "default"
    return LoadedSettings(settings, sources, SecretSources(named, file_values, secrets_dir))


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{PREFIX}{where.upper()}: {first.get('msg', 'invalid')}"
    return "invalid value"
