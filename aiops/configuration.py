"""Load and cross-check the registry and the capability scopes (prompts: ``aiops.prompts``).

Every failure is a ``ConfigError`` naming the file, the key path and the problem.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aiops.errors import ConfigError
from aiops.evidence.strict import FileRefusedError, number_problem, read_regular_file
from aiops.resources import default_config_dir
from aiops.schemas.registry import LayerMapping, Registry
from aiops.schemas.scope import CapabilityScope

REGISTRY_FILE = "model_registry.toml"
SCOPES_DIR = "capability_scopes"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # the shipped registry is about 12 KB

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    """A validated configuration: the registry and every capability scope by id."""

    directory: Path
    registry: Registry
    scopes: dict[str, CapabilityScope]
    scope_files: dict[str, Path]

    def layer(self, layer_id: str) -> LayerMapping:
        return self.registry.layer_mapping[layer_id]  # type: ignore[index]

    def scope_for(self, layer_id: str) -> CapabilityScope:
        scope_id = self.layer(layer_id).capability_scope
        assert scope_id is not None  # guaranteed by the cross-check at load
        return self.scopes[scope_id]


def resolve_config_dir(explicit: Path | None) -> Path:
    """``--config-dir``/``AIOPS_CONFIG_DIR``, else ``./config`` when it holds a
    registry, else the packaged defaults."""
    if explicit is not None:
        if not _holds_registry(explicit):
            raise ConfigError(explicit, f"no {REGISTRY_FILE} in this directory")
        return explicit
    local = Path("config")
    if _holds_registry(local):
        return local
    return default_config_dir()


def _holds_registry(directory: Path) -> bool:
    try:
        return (directory / REGISTRY_FILE).is_file()
    except OSError as exc:  # a name too long, a directory we may not enter
        raise ConfigError(directory, f"cannot read: {exc.strerror}") from None


def load_config(explicit_dir: Path | None = None) -> Config:
    directory = resolve_config_dir(explicit_dir)
    registry_path = directory / REGISTRY_FILE
    registry = parse_model(Registry, read_toml(registry_path), registry_path)
    scopes: dict[str, CapabilityScope] = {}
    scope_files: dict[str, Path] = {}
    scope_dir = directory / SCOPES_DIR
    for path in sorted(scope_dir.glob("*.toml")) if scope_dir.is_dir() else []:
        scope = parse_model(CapabilityScope, read_toml(path), path)
        scope_id = scope.scope.scope_id
        if scope_id != path.stem:
            raise ConfigError(path, f"scope_id {scope_id!r} must match the file name", "scope")
        scopes[scope_id] = scope
        scope_files[scope_id] = path
    _cross_check(registry, registry_path, scopes, scope_files)
    return Config(directory, registry, scopes, scope_files)


def _cross_check(
    registry: Registry,
    registry_path: Path,
    scopes: dict[str, CapabilityScope],
    scope_files: dict[str, Path],
) -> None:
    for scope_id, scope in scopes.items():
        layer_id = scope.scope.layer_id
        layer = registry.layer_mapping[layer_id]
        if layer.forbidden or layer.deterministic_only:
            raise ConfigError(
                scope_files[scope_id],
                f"layer {layer_id} runs no model and takes no scope",
                "scope.layer_id",
            )
        if scope.scope.autonomy_level.rank > layer.max_autonomy.rank:
            raise ConfigError(
                scope_files[scope_id],
                f"autonomy {scope.scope.autonomy_level} is above layer {layer_id}'s "
                f"max autonomy {layer.max_autonomy}",
                "scope.autonomy_level",
            )
    for layer_id, layer in registry.layer_mapping.items():
        if layer.capability_scope is None:
            continue
        mapped = scopes.get(layer.capability_scope)
        if mapped is None:
            raise ConfigError(
                registry_path,
                f"capability scope {layer.capability_scope!r} has no file in {SCOPES_DIR}/",
                f"layer_mapping.{layer_id}.capability_scope",
            )
        if mapped.scope.layer_id != layer_id:
            raise ConfigError(
                registry_path,
                f"scope {layer.capability_scope!r} belongs to layer {mapped.scope.layer_id}",
                f"layer_mapping.{layer_id}.capability_scope",
            )


def read_toml(path: Path) -> dict[str, Any]:
    """A configuration file: a regular file of at most ``MAX_CONFIG_BYTES`` (never a
    FIFO or device), UTF-8 TOML whose numbers are within the bounds every aiops reader
    keeps (``aiops.evidence.strict.number_problem``)."""
    try:
        raw = read_regular_file(path, max_bytes=MAX_CONFIG_BYTES)
    except FileRefusedError as exc:
        raise ConfigError(
            path, "file not found" if exc.missing else f"cannot read: {exc}"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        # The message carries "(at line L, column C)".
        raise ConfigError(path, f"malformed TOML: {exc}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise ConfigError(path, "malformed TOML: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        # "Exceeds the limit (4300 digits) ...: value has N digits; use sys...": the
        # part before the advice meant for Python programmers.
        reason = (str(exc).splitlines() or ["unreadable value"])[0].split(";")[0]
        raise ConfigError(path, f"malformed TOML: {reason}") from None
    _check_numbers(data, path)
    return data


def _check_numbers(data: dict[str, Any], path: Path) -> None:
    """Refuse an integer outside +-(2**53 - 1) or an infinite or NaN float anywhere in
    ``data``, naming its key path (TOML nests at most as deep as its text)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}" if where else key, item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        else:
            problem = number_problem(value)
            if problem is not None:
                raise ConfigError(path, problem, where or None)


def parse_model(model: type[M], data: dict[str, Any], path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key_path = ".".join(str(part) for part in error["loc"]) or None
        problem = _describe(error)
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(path, problem + extra, key_path) from None


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (typo?)"
    if kind == "missing":
        return "required key is missing"
    if kind == "date_type":  # strict: a TOML date or "YYYY-MM-DD"; no number or time
        given = error.get("input")
        shown = repr(given) if isinstance(given, str) else str(given)
        return f"must be a date such as 2026-11-01, without a time (got {shown})"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    given = error.get("input")
    if kind not in ("model_type",) and isinstance(given, str | int | float | bool):
        shown = repr(given)
        return f"{message} (got {shown if len(shown) <= 80 else shown[:60] + '...'})"
    return message
