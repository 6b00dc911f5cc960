"""Model lifecycle: a model must exist, be ``production`` and not be retired."""

from __future__ import annotations

from datetime import datetime

from aiops.errors import ModelNotAllowedError
from aiops.schemas.registry import Model, ModelStatus, Registry


def require_runnable(registry: Registry, model_id: str, role: str, at: datetime) -> Model:
    model = registry.models.get(model_id)
    if model is None:
        raise ModelNotAllowedError(f"unknown {role} model {model_id!r}: not in the registry")
    instead = f"; use {model.replacement!r} instead" if model.replacement else ""
    if model.status is ModelStatus.RETIRED or (
        model.retired_on is not None and at.date() >= model.retired_on
    ):
        when = f" on {model.retired_on.isoformat()}" if model.retired_on else ""
        raise ModelNotAllowedError(f"{role} model {model_id!r} was retired{when}{instead}")
    if model.status is not ModelStatus.PRODUCTION:
        raise ModelNotAllowedError(
            f"{role} model {model_id!r} has status {model.status.value!r}, "
            f"not 'production'{instead}"
        )
    return model
