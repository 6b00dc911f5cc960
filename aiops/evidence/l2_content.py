"""What an operator and the drift check read from an L2 proposer's parsed output.

The proposer answers ``{"outputs": [{"type": ..., ...}, ...]}`` in the output contract
of ``aiops.schemas.outputs``. This module reads the few things the pilot tracks from
that format, tolerantly (a missing or malformed field is ``None``/empty, never an
error: a pack whose output broke the contract is still shown, and scope enforcement is
where it is judged):

* regime — the first ``RegimeClassification``'s ``regime``;
* scenarios — every ``ScenarioReport``'s ``scenarios``, each known by its ``id``
  (named by ``name``, with its ``probability``);
* no-trade triggers — every ``NoTradeTriggers``'s ``triggers``, each as
  ``"<id>: <condition>"``, so a changed condition is a changed trigger;
* uncertainty — each ``UncertaintyAssessment``'s ``level`` and ``confidence`` and its
  ``sources``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    key: str  # the scenario's id
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
    for output in _dicts(parsed.get("outputs") if isinstance(parsed, dict) else None):
        kind = output.get("type")
        if kind == "RegimeClassification" and regime is None:
            regime = _text(output.get("regime"))
        elif kind == "ScenarioReport":
            for item in _dicts(output.get("scenarios")):
                scenarios.append(_scenario(item, len(scenarios) + 1))
        elif kind == "NoTradeTriggers":
            for item in _dicts(output.get("triggers")):
                key, condition = _text(item.get("id")), _text(item.get("condition"))
                triggers.append(": ".join(part for part in (key, condition) if part) or "?")
        elif kind == "UncertaintyAssessment":
            level, confidence = _text(output.get("level")), _number(output.get("confidence"))
            if level or confidence is not None:
                parts = [f"level {level}" if level else "", _confidence(confidence)]
                uncertainty.append(", ".join(part for part in parts if part))
            sources = output.get("sources")
            for source in sources if isinstance(sources, list) else []:
                text = _text(source)
                if text:
                    uncertainty.append(text)
    return L2Content(regime, scenarios, triggers, uncertainty)


def _dicts(items: Any) -> Iterator[dict[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            yield item


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _confidence(value: float | None) -> str:
    return f"confidence {value:g}" if value is not None else ""


def _scenario(item: dict[str, Any], position: int) -> Scenario:
    key = _text(item.get("id")) or f"scenario {position}"
    name = _text(item.get("name")) or key
    return Scenario(key=key, name=name, probability=_number(item.get("probability")))
