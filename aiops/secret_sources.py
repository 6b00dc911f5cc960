"""Where provider keys come from: the process environment, an env file, a secrets
directory; and the one function that looks a key variable up in them.

Precedence, highest first: the environment (a variable set to a non-empty value),
then the env file (``--env-file FILE`` or ``AIOPS_ENV_FILE``; never read unless
named), then the secrets directory (``AIOPS_SECRETS_DIR``, default ``/run/secrets``
when it exists) holding one file per key variable, named like it (``OPENAI_API_KEY``),
the way Docker and Kubernetes mount secrets. An empty value counts as unset.

Every file is read with the bounded regular-file reader (a FIFO, device or directory
is refused, never read). Values are never shown: only the name of the source is
(``environment``, ``env file``, ``secrets dir``), on the banner and in the manifest.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiops.errors import UsageError

KeySource = Literal["environment", "env file", "secrets dir"]
DEFAULT_SECRETS_DIR = Path("/run/secrets")
MAX_ENV_FILE_BYTES = 64 * 1024
MAX_SECRET_FILE_BYTES = 16 * 1024
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class SecretSources:
    """The env file's values (if one was named) and the secrets directory (if any)."""

    env_file: Path | None = None
    env_file_values: Mapping[str, str] = field(default_factory=dict)
    secrets_dir: Path | None = None


def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of ``path`` (dotenv syntax: comments, quotes,
    ``export``). Refused (exit 2, one line naming the file, never a value) when it is
    missing, not a regular file, too large, not UTF-8 or not parseable."""
    from aiops.evidence.strict import read_text_file

    _, text = read_text_file(path, max_bytes=MAX_ENV_FILE_BYTES, what=f"the env file {path}")
    from dotenv import dotenv_values

    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    bad = [name for name in values if not _VARIABLE.fullmatch(name)]
    if bad:
        raise UsageError(f"the env file {path} names a variable that is not one: {bad[0]!r}")
    return {name: value for name, value in values.items() if value}


def env_file_named(option: Path | None) -> Path | None:
    """``--env-file`` when given, else ``AIOPS_ENV_FILE`` (empty means unset)."""
    if option is not None:
        return option
    value = os.environ.get("AIOPS_ENV_FILE", "")
    return Path(value) if value else None


def default_sources() -> SecretSources:
    """No env file; the secrets directory ``AIOPS_SECRETS_DIR`` names, or the default."""
    return SecretSources(secrets_dir=secrets_dir_from(os.environ.get("AIOPS_SECRETS_DIR")))


def secrets_dir_from(named: str | None) -> Path | None:
    """``AIOPS_SECRETS_DIR`` when set (it must be a directory), else ``/run/secrets``
    when that is one, else none."""
    if named:
        path = Path(named)
        if not path.is_dir():
            raise UsageError(f"AIOPS_SECRETS_DIR {path} is not a directory")
        return path
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def _secret_file(directory: Path, name: str) -> str | None:
    """The value in ``directory/name`` (surrounding whitespace removed, as a mounted
    secret often ends in a newline), or none when there is no such file."""
    from aiops.evidence.strict import read_text_file

    if not _VARIABLE.fullmatch(name):
        return None
    path = directory / name
    if not os.path.exists(path):  # as read_regular_file: a link to nothing is no file
        return None
    _, text = read_text_file(path, max_bytes=MAX_SECRET_FILE_BYTES, what=f"the secret file {path}")
    return text.strip() or None


def lookup_key(
    name: str, sources: SecretSources, environ: Mapping[str, str] | None = None
) -> tuple[str, KeySource] | None:
    """The value of key variable ``name`` and where it came from: the environment,
    then the env file, then the secrets directory; none when no source has it."""
    env = os.environ if environ is None else environ
    if env.get(name):
        return env[name], "environment"
    if sources.env_file_values.get(name):
        return sources.env_file_values[name], "env file"
    if sources.secrets_dir is not None:
        value = _secret_file(sources.secrets_dir, name)
        if value:
            return value, "secrets dir"
    return None


class KeyEnviron(Mapping[str, str]):
    """The environment with the named key variables looked up through ``lookup_key``
    (each once), so every reader of a key sees the same value from the same source."""

    def __init__(
        self,
        key_names: list[str],
        sources: SecretSources,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._base = dict(os.environ if environ is None else environ)
        self._values = dict(self._base)
        self._sources: dict[str, KeySource] = {}
        for name in dict.fromkeys(key_names):
            found = lookup_key(name, sources, self._base)
            if found is not None:
                self._values[name], self._sources[name] = found

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source_of(self, name: str) -> KeySource | None:
        return self._sources.get(name)


def key_source(environ: Mapping[str, str] | None, name: str) -> KeySource | None:
    """Where the key variable ``name`` came from in ``environ`` (a ``KeyEnviron``, or
    a plain mapping: then the environment), none when it is unset."""
    if isinstance(environ, KeyEnviron):
        return environ.source_of(name)
    env = os.environ if environ is None else environ
    return "environment" if env.get(name) else None
