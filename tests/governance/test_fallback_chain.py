"""The fallback chain: order, skips with reasons, SoD for the model actually used."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.governance.fallback import FallbackChain, fallback_chain, layer_failure_policy
from aiops.schemas.registry import Diversity, FallbackPolicy, LayerFallbackPolicy
from tests.providers._fakes import registry

AT = datetime(2026, 11, 21, tzinfo=UTC)


def _chain(primary: str, fallbacks: list[str], critic: str, diversity: Diversity) -> FallbackChain:
    reg = registry()
    layer = reg.layer_mapping["L2"].model_copy(
        update={
            "primary": primary,
            "fallbacks": fallbacks,
            "critic": critic,
            "provider_diversity": diversity,
        }
    )
    return fallback_chain(
        reg,
        "L2",
        layer,
        primary_id=primary,
        critic_id=critic,
        run_id="L2-test",
        timestamp="2026-11-21T00:00:00+00:00",
        at=AT,
    )


def test_shipped_l2_chain_is_primary_then_fallback() -> None:
    reg = registry()
    layer = reg.layer_mapping["L2"]
    chain = fallback_chain(
        reg,
        "L2",
        layer,
        primary_id="gpt-5.2-pro",
        critic_id="deepseek-r1",
        run_id="r",
        timestamp="t",
        at=AT,
    )
    assert chain.model_ids == ["gpt-5.2-pro", "gpt-5.2"]
    assert [c.is_fallback for c in chain.candidates] == [False, True]
    assert chain.skipped == []
    assert chain.candidates[1].sod.proposer_model_id == "gpt-5.2"
    assert chain.candidates[1].sod.result == "PASS"


def test_skips_critic_diversity_breakers_retired_and_duplicates_with_reasons() -> None:
    chain = _chain(
        "gpt-5.2-pro",
        [
            "gpt-5.2",
            "deepseek-v4-pro",
            "deepseek-v4-flash",
            "deepseek-reasoner",
            "gpt-5.2",
            "deepseek-r1",
        ],
        critic="deepseek-v4-pro",
        diversity=Diversity.REQUIRE,
    )
    assert chain.model_ids == ["gpt-5.2-pro", "gpt-5.2", "deepseek-r1"]
    reasons = {s.model_id: s.reason for s in chain.skipped}
    assert list(reasons) == ["deepseek-v4-pro", "deepseek-v4-flash", "deepseek-reasoner", "gpt-5.2"]
    assert "proposer deepseek-v4-pro == critic deepseek-v4-pro" in reasons["deepseek-v4-pro"]
    assert "provider deepseek_platform == critic provider" in reasons["deepseek-v4-flash"]
    assert "retired" in reasons["deepseek-reasoner"]
    assert "'deepseek-v4-pro' instead" in reasons["deepseek-reasoner"]
    assert reasons["gpt-5.2"] == "already in the chain"
    # The SoD check kept for each candidate is the one for that very model.
    assert [c.sod.proposer_provider for c in chain.candidates] == ["openai", "openai", "deepseek"]


def test_same_provider_allowed_when_diversity_is_only_warned() -> None:
    chain = _chain("gpt-5.2-pro", ["gpt-5.2"], critic="o3", diversity=Diversity.WARN)
    assert chain.model_ids == ["gpt-5.2-pro", "gpt-5.2"]
    assert chain.candidates[1].sod.warnings  # the warning travels with the candidate


def test_primary_equal_to_critic_is_skipped_too() -> None:
    chain = _chain("gpt-5.2", ["gpt-5.2-pro"], critic="gpt-5.2", diversity=Diversity.OFF)
    assert chain.model_ids == ["gpt-5.2-pro"]
    assert chain.candidates[0].is_fallback
    assert chain.skipped[0].model_id == "gpt-5.2"


def test_layer_failure_policy_overrides() -> None:
    policy = FallbackPolicy(
        alert_on_fallback=True,
        fail_closed=True,
        layers={"L4": LayerFallbackPolicy(alert_on_fallback=False)},
    )
    assert layer_failure_policy(policy, "L4").alert_on_fallback is False
    assert layer_failure_policy(policy, "L4").fail_closed is True
    assert layer_failure_policy(policy, "L2").alert_on_fallback is True
