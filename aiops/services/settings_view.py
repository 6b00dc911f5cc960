"""``aiops settings``: the effective settings and their sources, and where each
provider key variable the registry names was found. Never a key's value."""

from __future__ import annotations

from pathlib import Path

from aiops.configuration import describe_location, load_config, locate_config
from aiops.env_settings import load_settings
from aiops.schemas.settings import KeyRow, SettingRow, SettingsOutput
from aiops.secret_sources import KeyEnviron


def effective_settings(
    env_file: Path | None, config_dir: Path | None, config_dir_source: str | None
) -> SettingsOutput:
    """``env_file`` and ``config_dir`` are the global options (``config_dir_source``
    says whether ``config_dir`` was written on the command line)."""
    explicit = config_dir if config_dir_source == "command line" else None
    loaded = load_settings(env_file, config_dir=explicit)
    values = loaded.settings
    rows = [
        SettingRow(
            variable=f"AIOPS_{name.upper()}",
            value=None if getattr(values, name) is None else str(getattr(values, name)),
            source=loaded.sources[name],
        )
        for name in type(values).model_fields
    ]
    directory = config_dir or values.config_dir
    config = load_config(directory)
    providers: dict[str, list[str]] = {}
    required: dict[str, bool] = {}
    for provider_id, provider in config.registry.providers.items():
        providers.setdefault(provider.api_key_env, []).append(provider_id)
        required[provider.api_key_env] = (
            required.get(provider.api_key_env, False) or provider.api_key_required
        )
    environ = KeyEnviron(list(providers), loaded.secrets)
    keys = [
        KeyRow(
            variable=name,
            providers=ids,
            required=required[name],
            source=environ.source_of(name),
        )
        for name, ids in providers.items()
    ]
    secrets = loaded.secrets
    return SettingsOutput(
        env_file=None if secrets.env_file is None else str(secrets.env_file),
        secrets_dir=None if secrets.secrets_dir is None else str(secrets.secrets_dir),
        config_dir=describe_location(*locate_config(directory)),
        settings=rows,
        keys=keys,
    )
