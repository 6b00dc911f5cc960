"""Model requests built from the shipped registry, for provider tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aiops.configuration import load_config
from aiops.providers.base import ModelRequest, Role
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema


def make_request(
    model_id: str = "gpt-5.2-pro",
    role: Role = "proposer",
    *,
    model_changes: Mapping[str, Any] | None = None,
    **changes: Any,
) -> ModelRequest:
    """A request for ``model_id``; ``changes`` replace any other field of the request."""
    config = load_config()
    model = config.registry.models[model_id]
    if model_changes:
        model = model.model_copy(update=model_changes)
    schema = (
        envelope_json_schema(config.scope_for("L2").outputs.allowed)
        if role == "proposer"
        else strict_json_schema(CriticVerdict)
    )
    request = ModelRequest(
        role=role,
        model_id=model_id,
        model=model,
        provider_id=model.provider,
        provider=config.registry.providers[model.provider],
        system_prompt="You are a careful analyst.",
        user_prompt="Inputs: none.",
        output_schema=schema,
        schema_name="l2_market_outlook_outputs",
        max_output_tokens=1000,
    )
    return replace(request, **changes)
