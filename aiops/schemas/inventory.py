"""What ``aiops config check``, ``aiops models`` and ``aiops layers`` print with
``--json`` (``aiops schema config-check`` / ``models`` / ``layers`` export them)."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict
from aiops.schemas.pilot import OutputFormat

LayerRuns = Literal["models", "dry-run only", "deterministic only", "never (forbidden)"]


class ModelRow(Strict):
    id: str
    provider: str
    provider_model: str
    endpoint: str
    status: str
    retired_on: str | None
    replacement: str | None
    cost_per_1k_input: float
    cost_per_1k_output: float


class ModelList(Strict):
    format: OutputFormat = OutputFormat(name="aiops-models", version=1)
    config_dir: str
    models: list[ModelRow]


class LayerRow(Strict):
    id: str
    name: str
    max_autonomy: str
    runs: LayerRuns
    primary: str | None
    fallbacks: list[str]
    critic: str | None
    capability_scope: str | None
    prompt: str | None


class LayerList(Strict):
    format: OutputFormat = OutputFormat(name="aiops-layers", version=1)
    config_dir: str
    layers: list[LayerRow]


class ConfigProblem(Strict):
    file: str
    key_path: str | None
    reason: str


class ConfigCheckResult(Strict):
    format: OutputFormat = OutputFormat(name="aiops-config-check", version=1)
    config_dir: str
    ok: bool
    problem_count: int
    problems: list[ConfigProblem]
