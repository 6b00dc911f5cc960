"""Per-call figures of a pilot: fallbacks, cost and latency, read from the model output
files (``proposer_output.json``, ``critic_output.json``) as recorded.

* Fallback: the proposer's answering ``model_id`` differs from the manifest's primary,
  or its ``attempts`` name more than one model (``attempts[].model_id``).
* Cost of a call: ``input_tokens / 1000 x cost_per_1k_input + output_tokens / 1000 x
  cost_per_1k_output`` at the registry's prices (``governance.budget.cost_usd``; reasoning
  tokens are part of ``output_tokens``, so not added again). A call whose model is not in
  the registry, or without usage, is counted as unpriced.
* Latency: the output file's ``latency_ms``, under the model that answered (a failed
  attempt before a fallback is not an answer, and a call whose ``outcome`` is
  ``failed`` — an outage — is no latency sample at all). Percentiles: nearest rank — the
  ``ceil(p/100 x n)``-th smallest.

The files are read as verify-pack reads them (``aiops.evidence.reader``), and each
figure is used only when it has the type and range it must have: a model id is a
string, a count a non-negative integer, a latency or cost a finite non-negative number
below ``MAX_FIGURE``; anything else is as if it were not recorded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiops.bounds import MAX_FIGURE
from aiops.evidence.reader import PackView
from aiops.governance.budget import cost_usd
from aiops.schemas.pilot import ModelLatency
from aiops.schemas.registry import Registry

if TYPE_CHECKING:
    from aiops.services.pilot_facts import PackFacts


@dataclass(frozen=True)
class Call:
    role: str
    model_id: str
    latency_ms: float | None
    recorded_cost_usd: float | None  # the cost the run recorded (priced when it ran)
    tokens: tuple[int, int] | None  # input and output tokens, to price a call without one
    answered: bool  # a failed call (an outage) is not an answer, nor a latency sample

    def cost_usd(self, registry: Registry) -> float | None:
        """The cost the run recorded; for packs without one, usage at today's registry
        prices (``None``: the model is not in the registry, or no usage)."""
        if self.recorded_cost_usd is not None:
            return self.recorded_cost_usd
        model = registry.models.get(self.model_id)
        if model is None or self.tokens is None:
            return None
        return cost_usd(model, *self.tokens)


def calls(view: PackView) -> Iterator[Call]:
    for role, data in (("proposer", view.proposer), ("critic", view.critic)):
        if data is None:
            continue
        yield Call(
            role=role,
            model_id=_text(data.get("model_id")) or "(unknown)",
            latency_ms=_number(data.get("latency_ms")),
            recorded_cost_usd=_number(data.get("cost_usd")),
            tokens=_tokens(data.get("usage")),
            answered=answered(data),
        )


def answered(data: dict[str, Any] | None) -> bool:
    """The model answered: its recorded outcome is one with an output (fail closed: an
    outcome missing or unknown is not an answer)."""
    return isinstance(data, dict) and data.get("outcome") in _ANSWERED


_ANSWERED = ("completed", "refused", "incomplete")


def is_fallback(view: PackView) -> bool:
    if view.proposer is None:
        return False
    answered = _text(view.proposer.get("model_id"))
    primary = view.manifest.primary_model_id if view.manifest else None
    attempts = view.proposer.get("attempts")
    tried = {
        model
        for a in (attempts if isinstance(attempts, list) else [])
        if isinstance(a, dict) and (model := _text(a.get("model_id")))
    }
    return (primary is not None and answered != primary) or len(tried) > 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _tokens(usage: object) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    tokens_in, tokens_out = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    if tokens_in is None or tokens_out is None:
        return None
    return tokens_in, tokens_out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_FIGURE:
        return value
    return None


def _number(value: object) -> float | None:
    """A recorded latency or cost: finite, non-negative and below ``MAX_FIGURE`` (so a
    sum over a pilot stays finite); ``None`` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)  # within float range: strict JSON bounds every integer
        if math.isfinite(number) and 0 <= number <= MAX_FIGURE:
            return number
    return None


SPENDING_MODES = frozenset({"live", "record"})  # the modes that call the providers


@dataclass
class Usage:
    """Spend (live and record packs only), cost recorded but not spent, and latency
    samples (answers only), per day, pack and model."""

    per_day_cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    per_pack_cost: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    per_model: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    per_day_latency: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    not_spent: float = 0.0
    unpriced: int = 0

    @classmethod
    def of(cls, packs: Sequence[PackFacts], registry: Registry) -> Usage:
        usage = cls()
        for pack in packs:
            spends = pack.mode in SPENDING_MODES
            for call in pack.calls:
                cost = call.cost_usd(registry)
                if cost is None:
                    usage.unpriced += 1
                elif spends:
                    usage.per_day_cost[pack.day] += cost
                    usage.per_pack_cost[id(pack)] += cost
                else:
                    usage.not_spent += cost
                if call.latency_ms is not None and call.answered:
                    usage.per_model[call.model_id].append(call.latency_ms)
                    usage.per_day_latency[pack.day][call.model_id].append(call.latency_ms)
        return usage

    @property
    def total(self) -> float:
        return sum(self.per_day_cost.values())

    def latency(self) -> list[ModelLatency]:
        return [
            ModelLatency(
                model_id=model,
                calls=len(values),
                p50_ms=round(percentile(values, 50), 1),
                p95_ms=round(percentile(values, 95), 1),
            )
            for model, values in sorted(self.per_model.items())
        ]
