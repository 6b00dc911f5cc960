"""Model lifecycle: a model must exist, be ``production`` and not be retired."""

from __future__ import annotations

from datetime import datetime

from aiops.errors import ModelNotAllowedError
from aiops.schemas.registry import Model, ModelStatus, Registry


def known_models_hint(registry: Registry, model_id: str) -> str:
    """The closest registry ids to a mistyped one, else every id (``aiops models``)."""
    from difflib import get_close_matches

    ids = sorted(registry.models)
    close = get_close_matches(model_id.lower(), ids, n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(map(repr, close))}? (aiops models)"
    return f"known ids: {', '.join(ids)} (aiops models)"


def require_runnable(registry: Registry, model_id: str, role: str, at: datetime) -> Model:
    model = registry.models.get(model_id)
    if model is None:
        raise ModelNotAllowedError(
            f"unknown {role} model {model_id!r}: not in the registry; "
            + known_models_hint(registry, model_id)
        )
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
