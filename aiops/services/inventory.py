"""What the effective configuration offers: models, layers, and every problem in it.

One service per listing command (``aiops models``, ``aiops layers``,
``aiops config check``); each returns plain typed data that the CLI renders as a table
or as JSON with a ``format`` name and version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiops.configuration import (
    Problem,
    check_config,
    describe_location,
    load_config,
)

MODELS_FORMAT = {"name": "aiops-models", "version": 1}
LAYERS_FORMAT = {"name": "aiops-layers", "version": 1}
CONFIG_CHECK_FORMAT = {"name": "aiops-config-check", "version": 1}


@dataclass(frozen=True)
class ModelRow:
    id: str
    provider: str
    provider_model: str
    endpoint: str
    status: str
    retired_on: str | None
    replacement: str | None
    cost_per_1k_input: float
    cost_per_1k_output: float


@dataclass(frozen=True)
class LayerRow:
    id: str
    name: str
    max_autonomy: str
    runs: str  # "models", "dry-run only", "deterministic only", "never (forbidden)"
    primary: str | None
    fallbacks: list[str]
    critic: str | None
    capability_scope: str | None
    prompt: str | None


@dataclass(frozen=True)
class Inventory:
    config_dir: str
    models: list[ModelRow]
    layers: list[LayerRow]

    def models_json(self) -> dict[str, Any]:
        return {
            "format": MODELS_FORMAT,
            "config_dir": self.config_dir,
            "models": [asdict(m) for m in self.models],
        }

    def layers_json(self) -> dict[str, Any]:
        return {
            "format": LAYERS_FORMAT,
            "config_dir": self.config_dir,
            "layers": [asdict(layer) for layer in self.layers],
        }


def inventory(config_dir: Path | None) -> Inventory:
    config = load_config(config_dir)
    registry = config.registry
    models = [
        ModelRow(
            id=model_id,
            provider=model.provider,
            provider_model=model.requested_model,
            endpoint=model.endpoint.value,
            status=model.status.value,
            retired_on=model.retired_on.isoformat() if model.retired_on else None,
            replacement=model.replacement,
            cost_per_1k_input=model.cost_per_1k_input,
            cost_per_1k_output=model.cost_per_1k_output,
        )
        for model_id, model in sorted(registry.models.items())
    ]
    layers = []
    for layer_id, layer in sorted(registry.layer_mapping.items()):
        if layer.forbidden:
            runs = "never (forbidden)"
        elif layer.deterministic_only:
            runs = "deterministic only"
        elif layer.prompt is None:
            runs = "dry-run only"
        else:
            runs = "models"
        layers.append(
            LayerRow(
                id=layer_id,
                name=layer.name,
                max_autonomy=str(layer.max_autonomy),
                runs=runs,
                primary=layer.primary,
                fallbacks=list(layer.fallbacks),
                critic=layer.critic,
                capability_scope=layer.capability_scope,
                prompt=layer.prompt,
            )
        )
    return Inventory(config.shown, models, layers)


@dataclass(frozen=True)
class ConfigCheck:
    config_dir: str
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CONFIG_CHECK_FORMAT,
            "config_dir": self.config_dir,
            "ok": self.ok,
            "problem_count": len(self.problems),
            "problems": [asdict(p) for p in self.problems],
        }


def config_check(config_dir: Path | None) -> ConfigCheck:
    directory, source, problems = check_config(config_dir)
    return ConfigCheck(describe_location(directory, source), problems)
