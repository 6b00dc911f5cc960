"""Where the shipped configuration and fixtures live.

An installed wheel carries them under ``aiops/_data/``; a source checkout reads them
from the tree (``config/``, ``fixtures/``). Either way an installed aiops works from
any directory.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    bundled = _PACKAGE / "_data"
    if (bundled / "config" / "model_registry.toml").is_file():
        return bundled
    return _PACKAGE.parent


def default_config_dir() -> Path:
    return data_root() / "config"


def fixtures_dir() -> Path:
    return data_root() / "fixtures"
