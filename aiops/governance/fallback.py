"""Which models a layer may try, in order, and why any were left out.

The chain is the proposer (the layer's primary, or ``--primary``), then each of the
layer's fallbacks in registry order. A candidate is skipped — never tried — when it
repeats an earlier one, is not runnable (unknown, not ``production``, retired), or fails
separation of duties against the critic (equal to the critic, or breaking required
provider diversity). SoD is evaluated for every candidate, so the ``SoDCheck`` of the
model that actually answers is the one the pack records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiops.errors import ModelNotAllowedError
from aiops.governance.lifecycle import require_runnable
from aiops.governance.sod import check_sod
from aiops.schemas.checks import SoDCheck
from aiops.schemas.registry import FallbackPolicy, LayerMapping, Registry


@dataclass(frozen=True)
class Candidate:
    """A model the run may call, with its SoD check against the critic."""

    model_id: str
    is_fallback: bool
    sod: SoDCheck


@dataclass(frozen=True)
class Skipped:
    """A model of the chain that is never tried, and why."""

    model_id: str
    reason: str

    @property
    def notice(self) -> str:
        """How the run words it (a warning in the summary, a finding in the report)."""
        return f"skipped {self.model_id}: {self.reason}"


@dataclass(frozen=True)
class FallbackChain:
    candidates: list[Candidate]
    skipped: list[Skipped]

    @property
    def model_ids(self) -> list[str]:
        return [candidate.model_id for candidate in self.candidates]


@dataclass(frozen=True)
class LayerFailurePolicy:
    """``alert_on_fallback`` / ``fail_closed`` after the layer's overrides."""

    alert_on_fallback: bool
    fail_closed: bool


def fallback_chain(
    registry: Registry,
    layer_id: str,
    layer: LayerMapping,
    *,
    primary_id: str,
    critic_id: str,
    run_id: str,
    timestamp: str,
    at: datetime,
) -> FallbackChain:
    """The models to try in order (primary first) and the ones skipped, with reasons."""
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for position, model_id in enumerate([primary_id, *layer.fallbacks]):
        if model_id in seen:
            skipped.append(Skipped(model_id, "already in the chain"))
            continue
        seen.add(model_id)
        try:
            require_runnable(registry, model_id, "fallback" if position else "proposer", at)
        except ModelNotAllowedError as refused:
            skipped.append(Skipped(model_id, str(refused)))
            continue
        sod = check_sod(registry, layer_id, layer, model_id, critic_id, run_id, timestamp)
        if sod.result == "FAIL":
            skipped.append(Skipped(model_id, sod.reason))
            continue
        candidates.append(Candidate(model_id, is_fallback=position > 0, sod=sod))
    return FallbackChain(candidates, skipped)


def layer_failure_policy(policy: FallbackPolicy, layer_id: str) -> LayerFailurePolicy:
    override = policy.layers.get(layer_id)  # type: ignore[call-overload]
    alert = override.alert_on_fallback if override else None
    fail_closed = override.fail_closed if override else None
    return LayerFailurePolicy(
        alert_on_fallback=policy.alert_on_fallback if alert is None else alert,
        fail_closed=policy.fail_closed if fail_closed is None else fail_closed,
    )
