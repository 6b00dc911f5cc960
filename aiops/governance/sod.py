"""Separation of duties: the proposer is never the critic; provider diversity per layer."""

from __future__ import annotations

from aiops.schemas.checks import Check, SoDCheck
from aiops.schemas.registry import Diversity, LayerMapping, Registry


def check_sod(
    registry: Registry,
    layer_id: str,
    layer: LayerMapping,
    proposer_id: str,
    critic_id: str,
    run_id: str,
    timestamp: str,
) -> SoDCheck:
    """Evaluate SoD. The caller blocks the run when ``result`` is ``FAIL``."""
    proposer = registry.models[proposer_id]
    critic = registry.models[critic_id]
    different = proposer_id != critic_id and proposer.provider_model != critic.provider_model
    checks = [
        Check(
            name="different_models",
            passed=different,
            detail=f"proposer {proposer_id} {'!=' if different else '=='} critic {critic_id}",
        )
    ]
    warnings: list[str] = []
    same_provider = proposer.provider == critic.provider
    if layer.provider_diversity is not Diversity.OFF:
        diverse = not same_provider
        detail = (
            f"proposer provider {proposer.provider} "
            f"{'!=' if diverse else '=='} critic provider {critic.provider}"
        )
        if layer.provider_diversity is Diversity.REQUIRE:
            checks.append(Check(name="provider_diversity", passed=diverse, detail=detail))
        elif not diverse:
            warnings.append(f"provider diversity: {detail}")
    failed = [check for check in checks if not check.passed]
    if failed:
        result, reason = "FAIL", "SoD FAIL: " + "; ".join(check.detail for check in failed)
    else:
        result, reason = "PASS", f"SoD PASS: Proposer ({proposer_id}) != Critic ({critic_id})"
    return SoDCheck(
        run_id=run_id,
        layer_id=layer_id,  # type: ignore[arg-type]
        timestamp=timestamp,
        result=result,  # type: ignore[arg-type]
        reason=reason,
        proposer_model_id=proposer_id,
        critic_model_id=critic_id,
        proposer_provider=proposer.provider,
        critic_provider=critic.provider,
        proposer_family=proposer.family,
        critic_family=critic.family,
        provider_diversity=layer.provider_diversity,
        checks=checks,
        warnings=warnings,
    )
