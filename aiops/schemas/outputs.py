"""The model output contract: the proposer's envelope and one Pydantic model per type.

The proposer answers ``{"outputs": [{"type": "<OutputType>", ...}, ...]}``. Scope
enforcement (``aiops.governance.outputs``) parses the envelope loosely first, so a
forbidden or unknown type is reported as such rather than as a schema error; only then
is each output validated by the model registered here for its type. The JSON Schema
sent to the model is derived from the same models (``envelope_json_schema``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from aiops.schemas.base import Strict
from aiops.schemas.chain_outputs import CHAIN_OUTPUT_MODELS
from aiops.schemas.research import RESEARCH_OUTPUT_MODELS
from aiops.schemas.spelling import one_spelling

Probability = Annotated[float, Field(ge=0, le=1)]
Level = Literal["low", "medium", "high"]


class Scenario(Strict):
    id: str = Field(min_length=1, description="Stable id, e.g. S1.")
    name: str = Field(min_length=1)
    probability: Probability
    horizon: str = Field(description="Time horizon, e.g. '4 weeks'.")
    description: str
    key_drivers: list[str]
    signposts: list[str] = Field(description="Observations that would confirm the scenario.")
    rationale: str = ""


class ScenarioReport(Strict):
    type: Literal["ScenarioReport"]
    title: str
    scenarios: list[Scenario]
    rationale: str = ""


class RegimeClassification(Strict):
    type: Literal["RegimeClassification"]
    regime: str = Field(min_length=1, description="e.g. 'late-cycle, risk-on with rising rates'")
    confidence: Probability
    indicators: list[str]
    rationale: str = ""


class NoTradeTrigger(Strict):
    id: str = Field(min_length=1)
    condition: str = Field(min_length=1, description="When no new risk should be taken.")
    rationale: str = ""


class NoTradeTriggers(Strict):
    type: Literal["NoTradeTriggers"]
    triggers: list[NoTradeTrigger]
    rationale: str = ""


class RiskItem(Strict):
    name: str = Field(min_length=1)
    severity: Level
    description: str


class RiskContext(Strict):
    type: Literal["RiskContext"]
    risks: list[RiskItem]
    rationale: str = ""


class MacroOutlook(Strict):
    type: Literal["MacroOutlook"]
    summary: str = Field(min_length=1)
    key_drivers: list[str]
    upcoming_events: list[str]
    rationale: str = ""


class UncertaintyAssessment(Strict):
    type: Literal["UncertaintyAssessment"]
    level: Level
    confidence: Probability
    sources: list[str] = Field(description="Main sources of uncertainty.")
    rationale: str = ""


# Output type name -> model. A scope may allow a type with no model here (other
# layers' types): it is then checked only as an object with a "type".
OUTPUT_MODELS: dict[str, type[Strict]] = {
    model.__name__: model
    for model in (
        ScenarioReport,
        RegimeClassification,
        NoTradeTriggers,
        RiskContext,
        MacroOutlook,
        UncertaintyAssessment,
    )
}
OUTPUT_MODELS.update(RESEARCH_OUTPUT_MODELS)  # research layers (L1)
OUTPUT_MODELS.update(CHAIN_OUTPUT_MODELS)  # L3 advice and the L4 verdict


def envelope_json_schema(allowed: list[str]) -> dict[str, Any]:
    """Strict JSON Schema of the envelope, restricted to the allowed types (a fresh copy;
    generating it is the costly part, so the text is cached)."""
    return json.loads(_envelope_text(tuple(allowed)))  # type: ignore[no-any-return]


@cache
def _envelope_text(allowed: tuple[str, ...]) -> str:
    variants: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for name in allowed:
        model = OUTPUT_MODELS.get(name)
        if model is None:
            variants.append(_generic_output(name))
            continue
        schema = strict_json_schema(model)
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
        variants.append({"$ref": f"#/$defs/{name}"})
    envelope: dict[str, Any] = {
        "type": "object",
        "properties": {"outputs": {"type": "array", "items": {"anyOf": variants}}},
        "required": ["outputs"],
        "additionalProperties": False,
    }
    if defs:
        envelope["$defs"] = defs
    return json.dumps(envelope)


def _generic_output(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": [name]},
            "content": {"type": "string"},
            "rationale": {"type": "string"},
        },
        "required": ["type", "content", "rationale"],
        "additionalProperties": False,
    }


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema in the form strict structured output accepts: every
    object closed and every property required; titles, defaults and string length
    limits dropped (enforced by the model's own validation instead); spelt the same
    whatever Pydantic release generated it (``aiops.schemas.spelling``), because it is
    part of the request and so of the prompt hash."""
    return json.loads(_strict_text(model))  # type: ignore[no-any-return]


# The strict schemas, generated from the models by ``python -m aiops.schemas.catalog``
# (a test proves each file equals its model's): reading one costs a run a fraction of a
# millisecond, generating it several. A model without a file is generated as before.
STRICT_DIR = Path(__file__).resolve().parent / "json" / "strict"


@cache
def _strict_text(model: type[BaseModel]) -> str:
    shipped = STRICT_DIR / f"{model.__name__}.json"
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    return generate_strict_text(model)


def generate_strict_text(model: type[BaseModel]) -> str:
    """The strict schema's text, derived from the model now."""
    return json.dumps(_strict(one_spelling(model.model_json_schema())))


# Keywords strict structured output does not accept (titles and defaults are noise; the
# string length limits are refused by the API). Pydantic still enforces every one of
# them on the answer, so dropping them from the request loses no check.
_NOT_IN_STRICT_MODE = frozenset({"title", "default", "minLength", "maxLength"})


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items() if k not in _NOT_IN_STRICT_MODE}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = sorted(out["properties"])
        return out
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node
