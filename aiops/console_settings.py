"""The text view of ``aiops settings`` (plain lines: names, paths, sources)."""

from __future__ import annotations

from aiops.schemas.settings import SettingsOutput
from aiops.streams import printable


def render_settings(result: SettingsOutput) -> None:
    lines = [
        f"Env file: {result.env_file or 'none (read only when named)'}",
        f"Secrets dir: {result.secrets_dir or 'none'}",
        f"Config: {result.config_dir}",
        "Settings:",
    ]
    lines += [
        f"  {row.variable} = {row.value if row.value is not None else '(unset)'} ({row.source})"
        for row in result.settings
    ]
    lines.append("Provider keys (values never shown):")
    for key in result.keys:
        where = f"from {key.source}" if key.source else "not set"
        needed = "" if key.required else ", optional"
        lines.append(f"  {key.variable} ({', '.join(key.providers)}{needed}): {where}")
    print("\n".join(printable(line) for line in lines))
