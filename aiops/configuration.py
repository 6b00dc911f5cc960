"""Load and cross-check the registry and the capability scopes (prompts: ``aiops.prompts``).

Every failure is a ``ConfigError`` naming the file, the key path and the problem; it
names the first problem and how many more there are (``aiops config check`` lists them
all: ``check_config``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from aiops.canonical import sha256_hex
from aiops.errors import ConfigError
from aiops.evidence.strict import FileRefusedError, number_problem, read_regular_file
from aiops.resources import default_config_dir
from aiops.schemas.registry import LayerMapping, Registry
from aiops.schemas.scope import CapabilityScope

REGISTRY_FILE = "model_registry.toml"
SCOPES_DIR = "capability_scopes"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # the shipped registry is about 12 KB

M = TypeVar("M", bound=BaseModel)

PROMPTS_DIR = "prompts"
CHECK_HINT = "aiops config check"
FIRST_FEW = 3  # problems a run's error line names; `aiops config check` lists them all

ConfigSource = Literal["given", "working directory", "packaged"]


@dataclass(frozen=True)
class Config:
    """A validated configuration: the registry and every capability scope by id."""

    directory: Path
    registry: Registry
    scopes: dict[str, CapabilityScope]
    scope_files: dict[str, Path]
    source: ConfigSource = "given"
    # SHA-256 of the exact bytes each file was parsed from (registry and scopes), so a
    # pack records the configuration that ran, not a second read of the file.
    digests: dict[Path, str] = field(default_factory=dict)

    def digest(self, path: Path) -> str:
        return self.digests[path]

    @property
    def shown_path(self) -> str:
        """The directory as recorded in a pack: as given, never a machine's install path."""
        return "packaged defaults" if self.source == "packaged" else str(self.directory)

    @property
    def shown(self) -> str:
        """How a person is told which configuration a run used."""
        return describe_location(self.directory, self.source)

    def layer(self, layer_id: str) -> LayerMapping:
        return self.registry.layer_mapping[layer_id]  # type: ignore[index]

    def scope_for(self, layer_id: str) -> CapabilityScope:
        scope_id = self.layer(layer_id).capability_scope
        assert scope_id is not None  # guaranteed by the cross-check at load
        return self.scopes[scope_id]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the configuration: its file, key path and reason."""

    file: str
    key_path: str | None
    reason: str

    def line(self) -> str:
        return f"{self.file}" + (f": {self.key_path}" if self.key_path else "") + f": {self.reason}"


@dataclass
class Problems:
    """Every problem found, in the order found."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: object, reason: str, key_path: str | None = None) -> None:
        self.items.append(Problem(str(path), key_path, reason))

    def raise_first(self) -> None:
        """One line for a run: the first problem and how many more there are."""
        if not self.items:
            return
        first, others = self.items[0], self.items[1:FIRST_FEW]
        more = len(self.items) - 1 - len(others)
        text = "; ".join([first.reason, *(p.line() for p in others)])
        extra = f" ({more} more: {CHECK_HINT})" if more else ""
        raise ConfigError(first.file, text + extra, first.key_path)


def resolve_config_dir(explicit: Path | None) -> Path:
    """``--config-dir``/``AIOPS_CONFIG_DIR``, else ``./config`` when it holds a
    registry, else the packaged defaults."""
    return locate_config(explicit)[0]


def locate_config(explicit: Path | None) -> tuple[Path, ConfigSource]:
    """The configuration directory and how it was chosen."""
    if explicit is not None:
        if not _holds_registry(explicit):
            raise ConfigError(explicit, f"no {REGISTRY_FILE} in this directory")
        return explicit, "given"
    local = Path("config")
    if _holds_registry(local):
        return local, "working directory"
    return default_config_dir(), "packaged"


def describe_location(directory: Path, source: ConfigSource) -> str:
    if source == "packaged":
        return "packaged defaults"
    if source == "working directory":
        return f"{directory} (found in the working directory)"
    return f"{directory} (--config-dir or AIOPS_CONFIG_DIR)"


def _holds_registry(directory: Path) -> bool:
    try:
        return (directory / REGISTRY_FILE).is_file()
    except OSError as exc:  # a name too long, a directory we may not enter
        raise ConfigError(directory, f"cannot read: {exc.strerror}") from None


def load_config(explicit_dir: Path | None = None) -> Config:
    """The validated configuration; the first problem (and a count of the rest) is a
    ``ConfigError``."""
    config, problems, _ = _collect(explicit_dir)
    problems.raise_first()
    assert config is not None  # no problems: everything parsed
    return config


def check_config(explicit_dir: Path | None = None) -> tuple[Path, ConfigSource, list[Problem]]:
    """Every problem in the registry, every scope and every prompt set the registry
    names: what ``aiops config check`` prints."""
    directory, source = locate_config(explicit_dir)
    _, problems, registry = _collect(explicit_dir)
    if registry is not None:
        _check_prompts(directory, registry, problems)
    return directory, source, problems.items


def _collect(explicit_dir: Path | None) -> tuple[Config | None, Problems, Registry | None]:
    directory, source = locate_config(explicit_dir)
    problems = Problems()
    digests: dict[Path, str] = {}
    registry_path = directory / REGISTRY_FILE
    registry = _parse_file(Registry, registry_path, problems, digests)
    scopes: dict[str, CapabilityScope] = {}
    scope_files: dict[str, Path] = {}
    scope_dir = directory / SCOPES_DIR
    for path in sorted(scope_dir.glob("*.toml")) if scope_dir.is_dir() else []:
        scope = _parse_file(CapabilityScope, path, problems, digests)
        if scope is None:
            continue
        scope_id = scope.scope.scope_id
        if scope_id != path.stem:
            problems.add(path, f"scope_id {scope_id!r} must match the file name", "scope")
            continue
        scopes[scope_id] = scope
        scope_files[scope_id] = path
    if registry is None:
        return None, problems, None
    _cross_check(registry, registry_path, scopes, scope_files, problems)
    if problems.items:
        return None, problems, registry
    config = Config(directory, registry, scopes, scope_files, source, digests)
    return config, problems, registry


def _parse_file(
    model: type[M], path: Path, problems: Problems, digests: dict[Path, str] | None = None
) -> M | None:
    try:
        data, digest = read_toml_digest(path)
        if digests is not None:
            digests[path] = digest
        return parse_model(model, data, path, problems)
    except ConfigError as error:
        if not problems.items or problems.items[-1].file != str(path):
            problems.add(error.path, error.problem, error.key_path)
        return None


def _check_prompts(directory: Path, registry: Registry, problems: Problems) -> None:
    """Each prompt set a layer names parses and belongs to that layer."""
    from aiops.schemas.prompt import PromptSet

    for layer_id, layer in registry.layer_mapping.items():
        if layer.prompt is None:
            continue
        path = directory / PROMPTS_DIR / f"{layer.prompt}.toml"
        prompts = _parse_file(PromptSet, path, problems)
        if prompts is not None and prompts.prompt.layer_id != layer_id:
            problems.add(
                path,
                f"prompt is for layer {prompts.prompt.layer_id}, not {layer_id}",
                "prompt.layer_id",
            )


def _cross_check(
    registry: Registry,
    registry_path: Path,
    scopes: dict[str, CapabilityScope],
    scope_files: dict[str, Path],
    problems: Problems,
) -> None:
    for scope_id, scope in scopes.items():
        layer_id = scope.scope.layer_id
        layer = registry.layer_mapping[layer_id]
        if layer.forbidden or layer.deterministic_only:
            problems.add(
                scope_files[scope_id],
                f"layer {layer_id} runs no model and takes no scope",
                "scope.layer_id",
            )
        elif scope.scope.autonomy_level.rank > layer.max_autonomy.rank:
            problems.add(
                scope_files[scope_id],
                f"autonomy {scope.scope.autonomy_level} is above layer {layer_id}'s "
                f"max autonomy {layer.max_autonomy}",
                "scope.autonomy_level",
            )
    for scope_id, scope in scopes.items():  # web tooling: domains, limits, models
        _check_web(registry, registry_path, scope, scope_files[scope_id], problems)
    for layer_id, layer in registry.layer_mapping.items():
        if layer.capability_scope is None:
            continue
        mapped = scopes.get(layer.capability_scope)
        if mapped is None:
            if (registry_path.parent / SCOPES_DIR / f"{layer.capability_scope}.toml").is_file():
                continue  # the file is there: its own problems were reported
            problems.add(
                registry_path,
                f"capability scope {layer.capability_scope!r} has no file in {SCOPES_DIR}/",
                f"layer_mapping.{layer_id}.capability_scope",
            )
        elif mapped.scope.layer_id != layer_id:
            problems.add(
                registry_path,
                f"scope {layer.capability_scope!r} belongs to layer {mapped.scope.layer_id}",
                f"layer_mapping.{layer_id}.capability_scope",
            )


def _check_web(
    registry: Registry,
    registry_path: Path,
    scope: CapabilityScope,
    path: Path,
    problems: Problems,
) -> None:
    from aiops.governance.web_config import model_problems, scope_problems

    for problem, key_path in scope_problems(scope):
        problems.add(path, problem, key_path)
    layer_id = scope.scope.layer_id
    layer = registry.layer_mapping[layer_id]
    if layer.primary is None or layer.capability_scope != scope.scope.scope_id:
        return
    for problem, role in model_problems(registry, scope, layer.primary, layer.fallbacks):
        problems.add(registry_path, problem, f"layer_mapping.{layer_id}.{role}")


def read_toml(path: Path) -> dict[str, Any]:
    """A configuration file: a regular file of at most ``MAX_CONFIG_BYTES`` (never a
    FIFO or device), UTF-8 TOML whose numbers are within the bounds every aiops reader
    keeps (``aiops.evidence.strict.number_problem``)."""
    return read_toml_digest(path)[0]


def read_toml_digest(path: Path) -> tuple[dict[str, Any], str]:
    """``read_toml`` and the SHA-256 of the bytes it parsed (read once)."""
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
    return data, sha256_hex(raw)


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


def parse_model(
    model: type[M], data: dict[str, Any], path: Path, problems: Problems | None = None
) -> M:
    """The validated model; else a ``ConfigError`` naming the first problem and how many
    more there are. Given ``problems``, every problem is also added to it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = Problems()
        for error in exc.errors():
            key_path = ".".join(str(part) for part in error["loc"]) or None
            found.add(path, _describe(error), key_path)
        if problems is not None:
            problems.items.extend(found.items)
        found.raise_first()
        raise AssertionError("unreachable") from None  # a ValidationError has errors


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
