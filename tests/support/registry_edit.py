"""Edit a copy of the shipped registry for a test: set keys of one TOML table.

Plain text edits, so the rest of the file (comments, order) stays as shipped and the
result is read by the real config loader.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# Retries, backoff and timeouts short enough for a fast suite; the shape is the shipped one.
FAST_POLICY: dict[str, Any] = {
    "max_retries_per_model": 2,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "jitter_seconds": 0.0,
    "connect_timeout_seconds": 2.0,
    "request_timeout_seconds": 5.0,
    "run_deadline_seconds": 30.0,
}


def set_keys(config_dir: Path, table: str, **values: Any) -> None:
    """Set ``key = value`` in ``[table]`` of ``model_registry.toml`` (added when absent)."""
    path = config_dir / "model_registry.toml"
    text = path.read_text()
    header = f"[{table}]\n"
    start = text.index(header) + len(header)
    following = re.search(r"^\[", text[start:], re.MULTILINE)
    end = start + following.start() if following else len(text)
    body = text[start:end]
    for key, value in values.items():
        line = f"{key} = {json.dumps(value)}"
        pattern = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
        body = pattern.sub(line, body) if pattern.search(body) else f"{line}\n{body}"
    path.write_text(text[:start] + body + text[end:])
