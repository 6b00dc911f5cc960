"""What the effective configuration offers: models, layers, and every problem in it.

One service per listing command (``aiops models``, ``aiops layers``,
``aiops config check``); each returns a typed result (``aiops.schemas.inventory``) that
the CLI renders as a table or prints as JSON with its ``format`` name and version.
"""

from __future__ import annotations

from pathlib import Path

from aiops.configuration import Config, check_config, describe_location, load_config
from aiops.schemas.inventory import (
    ConfigCheckResult,
    ConfigProblem,
    LayerList,
    LayerRow,
    LayerRuns,
    ModelList,
    ModelRow,
)


def models(config_dir: Path | None) -> ModelList:
    config = load_config(config_dir)
    return ModelList(
        config_dir=config.shown,
        models=[
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
            for model_id, model in sorted(config.registry.models.items())
        ],
    )


def layers(config_dir: Path | None) -> LayerList:
    config = load_config(config_dir)
    return LayerList(
        config_dir=config.shown,
        layers=[_layer_row(config, layer_id) for layer_id in sorted(config.registry.layer_mapping)],
    )


def _layer_row(config: Config, layer_id: str) -> LayerRow:
    layer = config.layer(layer_id)
    runs: LayerRuns
    if layer.forbidden:
        runs = "never (forbidden)"
    elif layer.deterministic_only:
        runs = "deterministic only"
    elif layer.prompt is None:
        runs = "dry-run only"
    else:
        runs = "models"
    return LayerRow(
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


def config_check(config_dir: Path | None) -> ConfigCheckResult:
    directory, source, problems = check_config(config_dir)
    return ConfigCheckResult(
        config_dir=describe_location(directory, source),
        ok=not problems,
        problem_count=len(problems),
        problems=[
            ConfigProblem(file=p.file, key_path=p.key_path, reason=p.reason) for p in problems
        ],
    )
