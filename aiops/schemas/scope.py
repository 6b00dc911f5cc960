"""Schema of ``config/capability_scopes/*.toml`` (one file per layer)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from aiops.schemas.base import Autonomy, StrictConfig
from aiops.schemas.registry import LayerId, TomlDate


class ScopeInfo(StrictConfig):
    scope_id: Annotated[str, Field(pattern=r"^L[0-6]_[a-z0-9_]+$")]
    layer_id: LayerId
    description: str
    autonomy_level: Autonomy = Field(strict=False)
    version: str
    effective_date: TomlDate


class AllowForbid(StrictConfig):
    allowed: list[str]
    forbidden: list[str]

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = sorted(set(self.allowed) & set(self.forbidden))
        if both:
            raise ValueError(f"both allowed and forbidden: {', '.join(both)}")
        return self


class WebAccess(StrictConfig):
    allowed_domains: list[str] = []
    rate_limit_per_hour: Annotated[int, Field(ge=0)] = 0
    max_searches_per_run: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=10,
        description="The request's max_tool_calls: the most web searches one call may "
        "make (reserved against rate_limit_per_hour and priced in the worst case).",
    )


class Constraints(StrictConfig):
    no_execution_trigger: bool = True
    no_order_parameters: bool = True
    no_risk_limit_change: bool = True
    must_include_uncertainty: bool = False
    must_include_no_trade_triggers: bool = False


class Logging(StrictConfig):
    required_fields: list[str] = []


class Safety(StrictConfig):
    safety_checks: list[str]
    alert_on_violation: bool = True
    alert_channel: str = ""


class Validation(StrictConfig):
    min_scenario_count: Annotated[int, Field(ge=0)] = 0
    max_scenario_count: Annotated[int, Field(ge=0)] = 0
    require_rationale: bool = False
    min_citations: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Research outputs: distinct cited URLs required at least."
    )
    require_finding_citations: bool = Field(
        default=False, description="Research outputs: every finding cites a source."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_scenario_count and self.max_scenario_count < self.min_scenario_count:
            raise ValueError("max_scenario_count is below min_scenario_count")
        return self


class InputPacks(StrictConfig):
    """Which evidence packs the layer takes as input (``--input-pack``). Without this
    table the layer takes none."""

    allowed_layers: Annotated[list[LayerId], Field(min_length=1)]
    allowed_statuses: Annotated[
        list[Literal["COMPLETED", "REJECTED", "BLOCKED", "FAILED"]], Field(min_length=1)
    ] = ["COMPLETED"]
    require_approved: bool = False  # an operator review deciding APPROVE beside the pack
    min_packs: Annotated[int, Field(ge=0)] = 1
    max_packs: Annotated[int, Field(ge=1)] = 1
    # The layer reviews its input pack (L4): one pack, a governance verdict on it, and
    # the proposer must differ from the reviewed pack's proposer and critic.
    review: bool = False

    @model_validator(mode="after")
    def _counts(self) -> Self:
        if self.max_packs < self.min_packs:
            raise ValueError("max_packs is below min_packs")
        if self.review and (self.min_packs, self.max_packs) != (1, 1):
            raise ValueError("a reviewing layer takes exactly one pack (min_packs = max_packs = 1)")
        return self


class CapabilityScope(StrictConfig):
    scope: ScopeInfo
    inputs: AllowForbid
    outputs: AllowForbid
    tooling: AllowForbid
    web_access: WebAccess = WebAccess()
    constraints: Constraints = Constraints()
    logging: Logging = Logging()
    safety: Safety
    validation: Validation = Validation()
    input_packs: InputPacks | None = None
    # Policy references a reviewing layer's findings must cite: reference -> wording.
    policies: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_.-]*$")], str] = {}

    @model_validator(mode="after")
    def _safety_present(self) -> Self:
        if not self.safety.safety_checks:
            raise ValueError("safety.safety_checks: at least one safety check is required")
        if self.scope.autonomy_level is Autonomy.EXEC:
            raise ValueError("scope.autonomy_level: EXEC is forbidden in every scope")
        if self.input_packs is not None and self.input_packs.review and not self.policies:
            raise ValueError("input_packs.review needs [policies] for the findings to cite")
        return self
