"""What ``aiops LAYER <mode> --json`` prints: the run's outcome as one JSON object."""

from __future__ import annotations

from aiops.schemas.runs import RunCost, RunResult, ServedModels
from aiops.services.run_layer import RunOutcome


def run_result(outcome: RunOutcome) -> RunResult:
    evidence, details = outcome.evidence, outcome.details
    recorded = details.cost_usd if details is not None else 0.0
    spent = recorded if details is not None and details.spent else 0.0
    violations = details.violations if details is not None else len(outcome.scope.violations)
    verdict = outcome.manifest.governance_verdict
    return RunResult(
        pack_path=str(outcome.pack_path),
        pack_id=evidence.evidence_pack_id,
        sequence=evidence.sequence,
        layer_id=evidence.layer_id,
        mode=evidence.mode,
        run_id=evidence.run_id,
        status=outcome.status,
        exit_code=outcome.exit_code,
        reason=outcome.reason,
        critic_decision=details.critic_decision if details is not None else None,
        violations=violations,
        cost=RunCost(recorded_usd=round(recorded, 6), spent_usd=round(spent, 6)),
        models=ServedModels(
            proposer=details.proposer_model_id
            if details is not None and details.proposer_outcome != "failed"
            else None,
            critic=details.critic_model_id
            if details is not None and details.critic_outcome not in (None, "failed")
            else None,
        ),
        warnings=list(outcome.warnings),
        governance_verdict=verdict.verdict if verdict is not None else None,
    )
