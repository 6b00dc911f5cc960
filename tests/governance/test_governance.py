"""SoD, autonomy and model lifecycle rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiops.configuration import load_config
from aiops.errors import ForbiddenAutonomyError, ModelNotAllowedError, UsageError
from aiops.governance.autonomy import check_layer_may_run, parse_layer
from aiops.governance.lifecycle import require_runnable
from aiops.governance.scope import preflight_checks
from aiops.governance.sod import check_sod
from aiops.schemas.registry import Diversity, ModelStatus

AT = datetime(2026, 1, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["l2", "L2", " l2 "])
def test_layer_names_are_case_insensitive(raw: str) -> None:
    assert parse_layer(raw) == "L2"


@pytest.mark.parametrize("raw", ["l7", "x", "", "L-1", "l22"])
def test_unknown_layers_are_usage_errors(raw: str) -> None:
    with pytest.raises(UsageError, match="unknown layer"):
        parse_layer(raw)


def test_exec_layer_is_forbidden_and_l5_runs_no_model() -> None:
    registry = load_config().registry
    with pytest.raises(ForbiddenAutonomyError, match="EXEC: execution is forbidden"):
        check_layer_may_run("L6", registry.layer_mapping["L6"])
    with pytest.raises(ForbiddenAutonomyError, match="deterministic code only"):
        check_layer_may_run("L5", registry.layer_mapping["L5"])
    check_layer_may_run("L2", registry.layer_mapping["L2"])  # no exception


def test_sod_passes_for_distinct_models_and_fails_for_equal() -> None:
    registry = load_config().registry
    layer = registry.layer_mapping["L2"]
    ok = check_sod(registry, "L2", layer, "gpt-5.2-pro", "deepseek-r1", "L2-x", "t")
    assert ok.result == "PASS"
    assert ok.reason == "SoD PASS: Proposer (gpt-5.2-pro) != Critic (deepseek-r1)"
    same = check_sod(registry, "L2", layer, "deepseek-r1", "deepseek-r1", "L2-x", "t")
    assert same.result == "FAIL"
    assert "proposer deepseek-r1 == critic deepseek-r1" in same.reason


@pytest.mark.parametrize(
    ("diversity", "result", "warned"),
    [
        (Diversity.OFF, "PASS", False),
        (Diversity.WARN, "PASS", True),
        (Diversity.REQUIRE, "FAIL", False),
    ],
)
def test_provider_diversity_modes(diversity: Diversity, result: str, warned: bool) -> None:
    registry = load_config().registry
    layer = registry.layer_mapping["L4"].model_copy(update={"provider_diversity": diversity})
    sod = check_sod(registry, "L4", layer, "o3-pro", "gpt-5.2-pro", "L4-x", "t")
    assert sod.result == result
    assert bool(sod.warnings) is warned
    assert sod.proposer_provider == sod.critic_provider == "openai"


def test_lifecycle_refuses_unknown_retired_and_non_production_models() -> None:
    registry = load_config().registry
    assert require_runnable(registry, "gpt-5.2-pro", "proposer", AT).provider == "openai"
    with pytest.raises(ModelNotAllowedError, match="unknown critic model 'nope'"):
        require_runnable(registry, "nope", "critic", AT)
    with pytest.raises(ModelNotAllowedError, match="retired on 2026-07-24; use 'deepseek-v4-pro'"):
        require_runnable(registry, "deepseek-reasoner", "proposer", AT)
    preview = registry.models["o3"].model_copy(update={"status": ModelStatus.PREVIEW})
    registry2 = registry.model_copy(update={"models": {**registry.models, "o3": preview}})
    with pytest.raises(ModelNotAllowedError, match="status 'preview', not 'production'"):
        require_runnable(registry2, "o3", "critic", AT)


def test_retirement_date_applies_at_the_run_clock() -> None:
    registry = load_config().registry
    dated = registry.models["o3"].model_copy(update={"retired_on": AT.date()})
    registry2 = registry.model_copy(update={"models": {**registry.models, "o3": dated}})
    before = AT.replace(day=9)
    assert require_runnable(registry2, "o3", "critic", before)
    with pytest.raises(ModelNotAllowedError, match="retired on 2026-01-10"):
        require_runnable(registry2, "o3", "critic", AT)


def test_preflight_scope_checks_catch_execution_tooling() -> None:
    config = load_config()
    scope = config.scopes["L2_market_outlook"]
    layer = config.registry.layer_mapping["L2"]
    assert all(check.passed for check in preflight_checks(layer, scope))
    tooling = scope.tooling.model_copy(update={"allowed": ["files", "shell"], "forbidden": []})
    broken = scope.model_copy(update={"tooling": tooling})
    failed = [c.name for c in preflight_checks(layer, broken) if not c.passed]
    assert failed == ["no_execution_tooling"]
