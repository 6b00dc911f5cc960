"""Configuration keeps the types TOML gives it, and the exported config schemas accept
exactly what TOML produces (a TOML date is, in JSON, its ``YYYY-MM-DD`` string)."""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.configuration import load_config
from aiops.errors import ConfigError
from aiops.resources import default_config_dir

REGISTRY = "model_registry.toml"
L2_SCOPE = "capability_scopes/L2_market_outlook.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "key_path"),
    [
        (REGISTRY, "reasoning = true", 'reasoning = "false"', r"models\.gpt-5\.2-pro\.reasoning"),
        (REGISTRY, "reasoning = true", "reasoning = 1", r"models\.gpt-5\.2-pro\.reasoning"),
        (REGISTRY, "reasoning = true", "reasoning = 0", r"models\.gpt-5\.2-pro\.reasoning"),
        (
            REGISTRY,
            "context_window = 400000",
            'context_window = "400000"',
            r"models\.gpt-5\.2-pro\.context_window",
        ),
        (
            REGISTRY,
            "context_window = 400000",
            "context_window = 400000.0",
            r"models\.gpt-5\.2-pro\.context_window",
        ),
        (
            REGISTRY,
            "effective_date = 2026-11-01",
            'effective_date = "1 Nov 2026"',
            r"registry\.effective_date",
        ),
        (
            REGISTRY,
            "effective_date = 2026-11-01",
            "effective_date = 2026-11-01T00:00:00Z",
            r"registry\.effective_date",
        ),
        (
            REGISTRY,
            "effective_date = 2026-11-01",
            "effective_date = 1793491200",
            r"registry\.effective_date",
        ),
        (
            REGISTRY,
            "tracking_enabled = true",
            'tracking_enabled = "true"',
            r"budget\.tracking_enabled",
        ),
        (
            REGISTRY,
            "enforce_different_models = true",
            "enforce_different_models = 1",
            r"audit\.sod_checks\.enforce_different_models",
        ),
        (REGISTRY, 'endpoint = "responses"', "endpoint = 1", r"models\.gpt-5\.2-pro\.endpoint"),
        (
            L2_SCOPE,
            "require_rationale = true",
            'require_rationale = "yes"',
            r"validation\.require_rationale",
        ),
        (
            L2_SCOPE,
            "min_scenario_count = 2",
            'min_scenario_count = "2"',
            r"validation\.min_scenario_count",
        ),
        (
            L2_SCOPE,
            "must_include_uncertainty = true",
            "must_include_uncertainty = 1",
            r"constraints\.must_include_uncertainty",
        ),
    ],
)
def test_config_values_are_not_coerced(
    config_copy: Path, runner: CliRunner, file: str, old: str, new: str, key_path: str
) -> None:
    _edit(config_copy / file, old, new)
    with pytest.raises(ConfigError, match=rf"{Path(file).name}: {key_path}: "):
        load_config(config_copy)
    result = runner.invoke(app, ["--config-dir", str(config_copy), "l2", "dry-run"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: ") and len(result.stderr.splitlines()) == 1
    assert Path(file).name in result.stderr and "Traceback" not in result.stderr


def test_toml_values_of_the_right_type_still_load(config_copy: Path) -> None:
    """Enumerations are TOML strings; an integer is a valid float; a date may also be
    written as its JSON form, the string ``YYYY-MM-DD``."""
    _edit(config_copy / REGISTRY, "cost_per_1k_input = 0.021", "cost_per_1k_input = 1")
    _edit(config_copy / REGISTRY, "effective_date = 2026-11-01", 'effective_date = "2026-11-01"')
    registry = load_config(config_copy).registry
    model = registry.models["gpt-5.2-pro"]
    assert model.cost_per_1k_input == 1.0 and model.endpoint.value == "responses"
    assert registry.registry.effective_date == datetime.date(2026, 11, 1)


@pytest.mark.parametrize("value", ['"2026-13-01"', '"2026-11-01T00:00:00Z"', "2026-11-01 10:00:00"])
def test_a_date_that_is_not_a_calendar_day_is_refused(config_copy: Path, value: str) -> None:
    _edit(config_copy / REGISTRY, "effective_date = 2026-11-01", f"effective_date = {value}")
    with pytest.raises(ConfigError, match=r"registry\.effective_date: must be a date"):
        load_config(config_copy)


# --- the exported config schemas and TOML ----------------------------------------------


def _as_json(value: Any) -> Any:
    """A TOML document as JSON: a date (or time) becomes its RFC 3339 string."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def _errors(schema_name: str, doc: Any) -> list[str]:
    result = CliRunner().invoke(app, ["schema", schema_name])
    assert result.exit_code == 0, result.stderr
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def _shipped() -> list[tuple[str, Path]]:
    config = default_config_dir()
    scopes = sorted((config / "capability_scopes").glob("*.toml"))
    return [("model-registry", config / REGISTRY)] + [("capability-scope", p) for p in scopes]


@pytest.mark.parametrize(("schema_name", "path"), _shipped(), ids=lambda v: getattr(v, "name", v))
def test_shipped_configs_as_json_pass_the_exported_schemas(schema_name: str, path: Path) -> None:
    doc = json.loads(json.dumps(tomllib.loads(path.read_text()), default=_as_json))
    assert _errors(schema_name, doc) == []


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("2026-11-01", True), ("2026-11-01T00:00:00+00:00", False), ("1 Nov 2026", False)],
)
def test_a_date_is_its_json_string(value: str, accepted: bool) -> None:
    doc = json.loads(
        json.dumps(tomllib.loads((default_config_dir() / REGISTRY).read_text()), default=_as_json)
    )
    doc["registry"]["effective_date"] = value
    assert (_errors("model-registry", doc) == []) is accepted


@pytest.mark.parametrize("value", ["false", 0, 1])
def test_the_exported_schema_refuses_what_the_loader_refuses(value: Any) -> None:
    path = default_config_dir() / REGISTRY
    doc = json.loads(json.dumps(tomllib.loads(path.read_text()), default=_as_json))
    doc["models"]["gpt-5.2-pro"]["reasoning"] = value
    assert _errors("model-registry", doc)
