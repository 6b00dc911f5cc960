"""Loading the registry and scopes: the shipped config is valid; every kind of mistake
is a ConfigError naming the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.configuration import load_config, resolve_config_dir
from aiops.errors import ConfigError
from aiops.resources import default_config_dir
from aiops.schemas.base import Autonomy
from aiops.schemas.registry import EndpointKind, LayerId

SEED_MODEL_IDS = {
    "gpt-5.2-pro",
    "gpt-5.2",
    "gpt-5-mini",
    "o3-deep-research",
    "o4-mini-deep-research",
    "o3-pro",
    "o3",
    "deepseek-r1",
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_shipped_config_loads_with_every_layer_and_scope() -> None:
    config = load_config()
    assert set(config.registry.layer_mapping) == {f"L{i}" for i in range(7)}
    assert set(config.scopes) == {
        "L0_ops_docs",
        "L1_deep_research",
        "L2_market_outlook",
        "L3_trade_plan_advisory",
        "L4_governance_critic",
    }
    assert SEED_MODEL_IDS <= set(config.registry.models)


def test_layer_table_matches_the_governance_matrix() -> None:
    layers = load_config().registry.layer_mapping
    expected: dict[LayerId, tuple[str, str, list[str], str]] = {
        "L0": ("REC", "gpt-5.2", ["gpt-5-mini"], "deepseek-r1"),
        "L1": ("PROP", "o3-deep-research", ["o4-mini-deep-research", "deepseek-r1"], "o3-pro"),
        "L2": ("PROP", "gpt-5.2-pro", ["gpt-5.2"], "deepseek-r1"),
        "L3": ("PROP", "gpt-5.2-pro", ["gpt-5.2"], "o3"),
        "L4": ("REC", "o3-pro", ["deepseek-r1"], "gpt-5.2-pro"),
    }
    for layer_id, (autonomy, primary, fallbacks, critic) in expected.items():
        layer = layers[layer_id]
        assert (layer.max_autonomy, layer.primary, layer.fallbacks, layer.critic) == (
            Autonomy(autonomy),
            primary,
            fallbacks,
            critic,
        )
    assert layers["L5"].deterministic_only and layers["L5"].max_autonomy is Autonomy.RO
    assert layers["L6"].forbidden and layers["L6"].max_autonomy is Autonomy.EXEC


def test_registry_is_truthful_about_provider_endpoints() -> None:
    models = load_config().registry.models
    for pro in ("gpt-5.2-pro", "o3-pro"):
        assert models[pro].endpoint is EndpointKind.RESPONSES  # Responses API only
    assert models["deepseek-r1"].endpoint is EndpointKind.CHAT_COMPLETIONS
    for retired in ("deepseek-reasoner", "deepseek-chat"):
        assert models[retired].status == "retired"
        retired_on = models[retired].retired_on
        assert retired_on is not None
        assert retired_on.isoformat() == "2026-07-24"


def test_l2_scope_is_exactly_the_seed_scope() -> None:
    scope = load_config().scopes["L2_market_outlook"]
    assert scope.outputs.allowed == [
        "ScenarioReport",
        "RegimeClassification",
        "NoTradeTriggers",
        "RiskContext",
        "MacroOutlook",
        "UncertaintyAssessment",
    ]
    assert scope.outputs.forbidden == [
        "OrderParameters",
        "ExecutionCommand",
        "RiskLimitChange",
        "LiveToggle",
        "PortfolioRebalance",
    ]
    assert scope.constraints.must_include_uncertainty
    assert scope.constraints.must_include_no_trade_triggers
    assert (scope.validation.min_scenario_count, scope.validation.max_scenario_count) == (2, 5)
    assert scope.validation.require_rationale


def test_config_dir_resolution_prefers_explicit_then_local_then_packaged(
    tmp_path: Path, config_copy: Path
) -> None:
    assert resolve_config_dir(None) == default_config_dir()
    local = tmp_path / "config"
    local.mkdir()
    (local / "model_registry.toml").write_text((config_copy / "model_registry.toml").read_text())
    assert resolve_config_dir(None) == Path("config")
    assert resolve_config_dir(config_copy) == config_copy


def test_explicit_dir_without_registry_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no model_registry.toml"):
        resolve_config_dir(tmp_path)


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "model_registry.toml",
            'owner = "ops"\n\n# ---',
            'owner = "ops"\nownr = "x"\n\n# ---',
            r"model_registry\.toml: registry\.ownr: unknown key",
        ),
        (
            "model_registry.toml",
            "rate_limit_rpm = 500\nstatus",
            'rate_limit_rpm = "fast"\nstatus',
            r"models\.gpt-5\.2-pro\.rate_limit_rpm: .*integer.*'fast'",
        ),
        (
            "model_registry.toml",
            'critic = "o3"\n',
            'critic = "o3-mega"\n',
            r"layer_mapping\.L3\.critic: unknown model 'o3-mega'",
        ),
        (
            "model_registry.toml",
            'provider = "openai"',
            'provider = "openia"',
            r"unknown provider 'openia'",
        ),
        (
            "model_registry.toml",
            "[layer_mapping.L0]",
            "[layer_mapping.L0]\nmax_autonomy = 'REC'",
            r"malformed TOML: .*line \d+, column \d+",
        ),
        (
            "model_registry.toml",
            'forbidden = true\nnotes = "Forbidden',
            'forbidden = false\nnotes = "Forbidden',
            r"EXEC must be marked forbidden",
        ),
        (
            "capability_scopes/L2_market_outlook.toml",
            "[constraints]\n",
            "[constraints]\nmust_include_uncertanty = true\n",
            r"L2_market_outlook\.toml: constraints\.must_include_uncertanty: unknown key",
        ),
        (
            "capability_scopes/L2_market_outlook.toml",
            'layer_id = "L2"',
            'layer_id = "L9"',
            r"L2_market_outlook\.toml: scope\.layer_id",
        ),
        (
            "capability_scopes/L4_governance_critic.toml",
            'autonomy_level = "REC"',
            'autonomy_level = "PROP"',
            r"autonomy PROP is above layer L4's max autonomy REC",
        ),
        (
            "capability_scopes/L2_market_outlook.toml",
            'forbidden = [\n  "OrderParameters",',
            'forbidden = [\n  "ScenarioReport",\n  "OrderParameters",',
            r"outputs: .*both allowed and forbidden: ScenarioReport",
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "missing-mapped-model",
        "unknown-provider",
        "malformed-toml",
        "exec-not-forbidden",
        "scope-unknown-key",
        "scope-unknown-layer",
        "scope-above-layer-autonomy",
        "scope-allowed-and-forbidden",
    ],
)
def test_config_mistakes_name_file_key_and_problem(
    config_copy: Path, file: str, old: str, new: str, expected: str
) -> None:
    edit(config_copy / file, old, new)
    with pytest.raises(ConfigError, match=expected):
        load_config(config_copy)


def test_missing_scope_file_is_named(config_copy: Path) -> None:
    (config_copy / "capability_scopes" / "L3_trade_plan_advisory.toml").unlink()
    with pytest.raises(ConfigError, match=r"layer_mapping\.L3\.capability_scope: .*no file"):
        load_config(config_copy)


def test_invalid_utf8_is_a_config_error(config_copy: Path) -> None:
    path = config_copy / "model_registry.toml"
    path.write_bytes(path.read_bytes() + b"\n# \xff\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(config_copy)


def test_a_run_records_the_digests_of_the_bytes_it_parsed(
    config_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each configuration file is read once: the digests in run_manifest.json are of the
    bytes the run parsed, even if the file changes on disk before the pack is written."""
    import hashlib

    from aiops.prompts import load_prompt
    from aiops.services.run_layer import RunOptions, base_manifest, preflight

    monkeypatch.chdir(tmp_path)
    config_dir = config_copy
    registry = config_dir / "model_registry.toml"
    scope = config_dir / "capability_scopes" / "L2_market_outlook.toml"
    prompt = config_dir / "prompts" / "l2_market_outlook.toml"
    parsed = {
        path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (registry, scope, prompt)
    }
    pre = preflight(RunOptions(layer="l2", mode="dry-run", config_dir=config_dir))
    loaded = load_prompt(pre.config, pre.layer_id)
    for path in parsed:
        path.write_bytes(path.read_bytes() + b"\n# changed after the run read it\n")
    config = base_manifest(pre, "dry-run", "").config
    assert config.registry_sha256 == parsed[registry]
    assert config.scope_sha256 == parsed[scope]
    assert loaded.sha256 == parsed[prompt]
