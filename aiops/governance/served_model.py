"""The served model as evidence (threat T7, model drift): what the provider says answered,
held against what the registry pins.

The registry may pin a model to a dated snapshot (sent as the model name) and name the
served model it expects (by default the snapshot). An answer naming another model — or
none, when one is expected — is a mismatch; the layer's ``served_model_mismatch`` says
whether it is a warning or blocks the run. The check is re-derived by verify-pack from
the ``served`` object of each model output file (``expected``, ``model``, ``policy``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from aiops.providers.base import Exchange, ServedModel
from aiops.schemas.registry import Model

Policy = Literal["warn", "block"]


@dataclass(frozen=True)
class ServedCheck:
    role: str
    model_id: str
    served: ServedModel
    expected: str | None
    policy: Policy
    answered: bool = True

    @property
    def matches(self) -> bool | None:
        """``None`` when nothing is expected or nothing answered; else whether the
        answer named the expected model."""
        if self.expected is None or not self.answered:
            return None
        return self.served.model == self.expected

    @property
    def blocks(self) -> bool:
        return self.matches is False and self.policy == "block"

    def message(self) -> str:
        said = repr(self.served.model) if self.served.model else "no model"
        return (
            f"served model mismatch: {self.role} {self.model_id} expected "
            f"{self.expected!r}, the provider said {said}"
            + (" (blocks the run)" if self.blocks else "")
        )

    def record(self) -> dict[str, Any]:
        """The ``served`` object of the model output file."""
        return {
            **asdict(self.served),
            "expected": self.expected,
            "matches": self.matches,
            "policy": self.policy,
        }


def check_served(
    role: str, model_id: str, model: Model, exchange: Exchange | None, policy: Policy
) -> ServedCheck:
    served = exchange.served if exchange is not None else ServedModel()
    expected = model.expected_served_model
    return ServedCheck(role, model_id, served, expected, policy, exchange is not None)


def served_entry(exchange: Exchange) -> dict[str, str | None]:
    """The served model as ``run_manifest.json``'s ``outputs_manifest`` records it."""
    return {
        "served_model": exchange.served.model,
        "system_fingerprint": exchange.served.system_fingerprint,
        "service_tier": exchange.served.service_tier,
    }
