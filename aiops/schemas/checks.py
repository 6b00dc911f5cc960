"""Schemas of ``sod_check.json`` and ``capability_scope_check.json``."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict
from aiops.schemas.registry import Diversity, LayerId

CheckResult = Literal["PASS", "FAIL"]


class Check(Strict):
    """One named rule and whether it held."""

    name: str
    passed: bool
    detail: str


class SoDCheck(Strict):
    run_id: str
    layer_id: LayerId
    timestamp: str
    result: CheckResult
    reason: str
    proposer_model_id: str
    critic_model_id: str
    proposer_provider: str
    critic_provider: str
    proposer_family: str
    critic_family: str
    provider_diversity: Diversity
    checks: list[Check]
    warnings: list[str]


class Violation(Strict):
    """A capability-scope rule the run broke; ``location`` points into the output."""

    rule: str
    detail: str
    location: str = ""


class ScopeCheck(Strict):
    run_id: str
    layer_id: LayerId
    timestamp: str
    scope_id: str
    scope_version: str
    result: CheckResult
    outputs_checked: bool
    checks: list[Check]
    violations: list[Violation]
