"""Capability scope: pre-flight checks that hold before any model is called.

Output enforcement (the proposer's envelope against allowed/forbidden types, the
constraints and validation rules) builds on these in the same result.
"""

from __future__ import annotations

from aiops.schemas.base import Autonomy
from aiops.schemas.checks import Check, ScopeCheck, Violation
from aiops.schemas.registry import LayerMapping
from aiops.schemas.scope import CapabilityScope

EXECUTION_TOOLING = frozenset({"execution", "shell", "code-interpreter"})
EXECUTION_OUTPUTS = frozenset({"OrderParameters", "ExecutionCommand", "LiveToggle"})


def preflight_checks(layer: LayerMapping, scope: CapabilityScope) -> list[Check]:
    info = scope.scope
    allowed_exec_tools = sorted(EXECUTION_TOOLING & set(scope.tooling.allowed))
    allowed_exec_outputs = sorted(EXECUTION_OUTPUTS & set(scope.outputs.allowed))
    return [
        Check(
            name="autonomy_within_layer_max",
            passed=info.autonomy_level.rank <= layer.max_autonomy.rank
            and info.autonomy_level is not Autonomy.EXEC,
            detail=f"scope autonomy {info.autonomy_level} <= layer max {layer.max_autonomy}",
        ),
        Check(
            name="no_execution_tooling",
            passed=not allowed_exec_tools,
            detail="execution tooling allowed: " + ", ".join(allowed_exec_tools)
            if allowed_exec_tools
            else "no execution tooling is allowed",
        ),
        Check(
            name="no_execution_outputs",
            passed=not allowed_exec_outputs,
            detail="execution outputs allowed: " + ", ".join(allowed_exec_outputs)
            if allowed_exec_outputs
            else "no order or execution output type is allowed",
        ),
        Check(
            name="safety_checks_present",
            passed=bool(scope.safety.safety_checks),
            detail=f"{len(scope.safety.safety_checks)} safety checks configured",
        ),
    ]


def build_scope_check(
    *,
    run_id: str,
    layer_id: str,
    timestamp: str,
    scope: CapabilityScope,
    checks: list[Check],
    violations: list[Violation],
    outputs_checked: bool,
) -> ScopeCheck:
    failed = bool(violations) or any(not c.passed for c in checks)
    return ScopeCheck(
        run_id=run_id,
        layer_id=layer_id,  # type: ignore[arg-type]
        timestamp=timestamp,
        scope_id=scope.scope.scope_id,
        scope_version=scope.scope.version,
        result="FAIL" if failed else "PASS",
        outputs_checked=outputs_checked,
        checks=checks,
        violations=violations,
    )
