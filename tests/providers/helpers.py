"""Model requests built from the shipped registry, for provider tests."""

from __future__ import annotations

from aiops.configuration import load_config
from aiops.providers.base import ModelRequest
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema


def make_request(
    model_id: str = "gpt-5.2-pro", role: str = "proposer", **changes: object
) -> ModelRequest:
    config = load_config()
    model = config.registry.models[model_id]
    if changes.get("model_changes"):
        model = model.model_copy(update=changes.pop("model_changes"))  # type: ignore[arg-type]
    schema = (
        envelope_json_schema(config.scope_for("L2").outputs.allowed)
        if role == "proposer"
        else strict_json_schema(CriticVerdict)
    )
    fields: dict[str, object] = {
        "role": role,
        "model_id": model_id,
        "model": model,
        "provider_id": model.provider,
        "provider": config.registry.providers[model.provider],
        "system_prompt": "You are a careful analyst.",
        "user_prompt": "Inputs: none.",
        "output_schema": schema,
        "schema_name": "l2_market_outlook_outputs",
        "max_output_tokens": 1000,
    }
    fields.update(changes)
    return ModelRequest(**fields)  # type: ignore[arg-type]
