"""Every ``--json`` output names its format and version, gives numbers as numbers, and
matches the schema ``aiops schema NAME`` exports for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from aiops.cli import app

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


def _json(runner: CliRunner, args: list[str], exit_codes: tuple[int, ...] = (0,)) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code in exit_codes, result.stderr
    return json.loads(result.stdout)


def _schema(runner: CliRunner, name: str) -> Any:
    return _json(runner, ["schema", name])


@pytest.mark.parametrize(
    ("args", "schema", "format_name"),
    [
        (["config", "check", "--json"], "config-check", "aiops-config-check"),
        (["models", "--json"], "models", "aiops-models"),
        (["layers", "--json"], "layers", "aiops-layers"),
    ],
)
def test_listings_carry_their_format_and_match_their_schema(
    runner: CliRunner, args: list[str], schema: str, format_name: str
) -> None:
    data = _json(runner, args)
    assert data["format"] == {"name": format_name, "version": 1}
    jsonschema.validate(data, _schema(runner, schema))


def test_pilot_and_verify_json_carry_formats_and_numbers(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    first, second = sorted(str(p) for p in (tmp_path / "evidence_packs").iterdir())
    report = _json(runner, ["pilot", "report", *NOT_LIVE, "evidence_packs", "--json"], (0, 1))
    assert report["format"] == {"name": "aiops-pilot-report", "version": 1}
    jsonschema.validate(report, _schema(runner, "pilot-report"))
    for kpi in report["kpis"]:
        assert isinstance(kpi["threshold"], float)
        assert kpi["value"] is None or isinstance(kpi["value"], float)
        assert kpi["unit"] in ("%", "min")
    sod = next(k for k in report["kpis"] if k["key"] == "sod")
    assert (sod["value"], sod["threshold"], sod["comparison"]) == (100.0, 100.0, "at least")
    drift = _json(runner, ["pilot", "drift", first, second, "--json"], (0, 1))
    assert drift["format"] == {"name": "aiops-pilot-drift", "version": 1}
    assert isinstance(drift["token_drift_pct"], float)
    jsonschema.validate(drift, _schema(runner, "pilot-drift"))
    verify = _json(runner, ["verify-pack", "evidence_packs", "--json"])
    assert verify["format"] == {"name": "aiops-verify-report", "version": 1}
    jsonschema.validate(verify, _schema(runner, "verify-report"))
    (Path(first) / "sod_check.json").write_text("{}", encoding="utf-8")
    broken = _json(runner, ["verify-pack", "evidence_packs", "-j"], (1,))
    assert broken["summary"]["failed_files"] == 1 and broken["verified"] is False
    jsonschema.validate(broken, _schema(runner, "verify-report"))
