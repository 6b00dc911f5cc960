"""What an operator and the drift check read from an L2 proposer's parsed output.

The proposer answers ``{"outputs": [{"type": ..., ...}, ...]}``. This module reads the
few things the pilot tracks, tolerantly (a missing field is ``None``/empty, never an
error; scope enforcement is where the output is judged):

* regime — the first ``RegimeClassification``'s ``regime`` (or ``label``/``classification``);
* scenarios — every ``ScenarioReport``: its ``scenarios`` list when it has one, else the
  output itself is one scenario; a scenario is known by ``id``/``scenario_id``, else
  ``name``/``title``;
* no-trade triggers — every ``NoTradeTriggers``'s ``triggers`` (or ``conditions``); a
  trigger is its string, else its ``id``/``name``/``condition``/``description``;
* uncertainty — each ``UncertaintyAssessment``'s ``level``/``overall`` and its
  ``drivers``/``factors``/``key_uncertainties``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiops.canonical import canonical_json


@dataclass(frozen=True)
class Scenario:
    key: str
    name: str
    probability: float | None = None


@dataclass(frozen=True)
class L2Content:
    regime: str | None = None
    scenarios: list[Scenario] = field(default_factory=list)
    no_trade_triggers: list[str] = field(default_factory=list)
    uncertainty: list[str] = field(default_factory=list)


def read_l2_content(parsed: Any) -> L2Content:
    regime: str | None = None
    scenarios: list[Scenario] = []
    triggers: list[str] = []
    uncertainty: list[str] = []
    for output in _outputs(parsed):
        kind = output.get("type")
        if kind == "RegimeClassification" and regime is None:
            regime = _text(output, "regime", "label", "classification")
        elif kind == "ScenarioReport":
            items = output.get("scenarios")
            for item in items if isinstance(items, list) else [output]:
                if isinstance(item, dict):
                    scenarios.append(_scenario(item, len(scenarios) + 1))
        elif kind == "NoTradeTriggers":
            items = output.get("triggers", output.get("conditions"))
            for item in items if isinstance(items, list) else []:
                triggers.append(_trigger(item))
        elif kind == "UncertaintyAssessment":
            level = _text(output, "level", "overall", "overall_uncertainty")
            if level:
                uncertainty.append(f"level: {level}")
            for key in ("drivers", "factors", "key_uncertainties"):
                values = output.get(key)
                if isinstance(values, list):
                    uncertainty += [_trigger(value) for value in values]
    return L2Content(regime, scenarios, triggers, uncertainty)


def _outputs(parsed: Any) -> Iterator[dict[str, Any]]:
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    for output in outputs if isinstance(outputs, list) else []:
        if isinstance(output, dict):
            yield output


def _text(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    return None


def _scenario(item: dict[str, Any], position: int) -> Scenario:
    name = _text(item, "name", "title") or f"scenario {position}"
    key = _text(item, "id", "scenario_id") or name
    probability = item.get("probability")
    if not isinstance(probability, int | float) or isinstance(probability, bool):
        probability = None
    return Scenario(key=key, name=name, probability=probability)


def _trigger(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        text = _text(item, "id", "name", "condition", "description")
        if text is not None:
            return text
    return canonical_json(item).decode("utf-8")
