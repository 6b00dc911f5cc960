"""Schema of ``config/capability_scopes/*.toml`` (one file per layer)."""

from __future__ import annotations

from typing import Annotated, Self

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

    @model_validator(mode="after")
    def _safety_present(self) -> Self:
        if not self.safety.safety_checks:
            raise ValueError("safety.safety_checks: at least one safety check is required")
        if self.scope.autonomy_level is Autonomy.EXEC:
            raise ValueError("scope.autonomy_level: EXEC is forbidden in every scope")
        return self
