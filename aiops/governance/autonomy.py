"""Autonomy: EXEC is forbidden everywhere; L5 runs deterministic code only."""

from __future__ import annotations

from aiops.errors import ForbiddenAutonomyError, UsageError
from aiops.schemas.base import Autonomy
from aiops.schemas.registry import LAYER_IDS, LayerMapping


def parse_layer(raw: str) -> str:
    """``l2``/``L2`` -> ``L2``; anything else is a usage error."""
    layer_id = raw.strip().upper()
    if layer_id not in LAYER_IDS:
        choices = ", ".join(layer.lower() for layer in LAYER_IDS)
        raise UsageError(f"unknown layer {raw!r}: choose one of {choices}")
    return layer_id


def check_layer_may_run(layer_id: str, layer: LayerMapping) -> None:
    """Refuse layers that may never call a model, before anything else happens."""
    if layer.forbidden or layer.max_autonomy is Autonomy.EXEC:
        raise ForbiddenAutonomyError(
            f"{layer_id} ({layer.name}) has autonomy EXEC: execution is forbidden, always"
        )
    if layer.deterministic_only:
        raise ForbiddenAutonomyError(
            f"{layer_id} ({layer.name}) runs deterministic code only and calls no model; "
            "there is nothing for aiops to run"
        )
