"""``aiops spend``: the spend ledger per day, model and layer against the budget, read
where and as the budget check reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.configuration import load_config
from aiops.governance.budget import SpendLedger

# The clock of every test is 2026-01-10T12:00:00Z (conftest.FIXED_EPOCH).
LINES: list[dict[str, Any]] = [
    {"kind": "reserve", "id": "a", "timestamp_utc": "2026-01-10T09:00:00+00:00",
     "run_id": "r1", "layer_id": "L2", "model_id": "gpt-5.2-pro", "estimate_usd": 3.0},
    {"kind": "spend", "id": "a", "timestamp_utc": "2026-01-10T09:00:05+00:00",
     "run_id": "r1", "layer_id": "L2", "model_id": "gpt-5.2-pro", "input_tokens": 10,
     "output_tokens": 10, "reasoning_tokens": 0, "cost_usd": 1.25},
    # An interrupted run's reservation, still held (30 minutes old) ...
    {"kind": "reserve", "id": "b", "timestamp_utc": "2026-01-10T11:30:00+00:00",
     "run_id": "r2", "layer_id": "L2", "model_id": "gpt-5.2-pro", "estimate_usd": 2.0},
    # ... and one that has lapsed (4 hours old).
    {"kind": "reserve", "id": "c", "timestamp_utc": "2026-01-10T08:00:00+00:00",
     "run_id": "r3", "layer_id": "L2", "model_id": "gpt-5.2-pro", "estimate_usd": 5.0},
    {"kind": "spend", "id": "d", "timestamp_utc": "2026-01-09T10:00:00+00:00",
     "run_id": "r4", "layer_id": "L2", "model_id": "deepseek-r1", "input_tokens": 10,
     "output_tokens": 10, "reasoning_tokens": 0, "cost_usd": 0.5},
]  # fmt: skip


def _ledger_path() -> Path:
    return SpendLedger(load_config().registry.budget).path


@pytest.fixture
def spend_lines() -> Path:
    path = _ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    return path


def _spend(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, ["spend", "--json", *args])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_spend_per_day_model_and_layer_with_held_reservations(
    runner: CliRunner, spend_lines: Path
) -> None:
    data = _spend(runner)
    schema = json.loads(runner.invoke(app, ["schema", "spend"]).stdout)
    jsonschema.validate(data, schema)
    rows = [(r["day"], r["model_id"], r["layer_id"], r["spent_usd"], r["reserved_usd"], r["calls"])
            for r in data["rows"]]  # fmt: skip
    assert rows == [
        ("2026-01-10", "gpt-5.2-pro", "L2", 1.25, 2.0, 1),
        ("2026-01-09", "deepseek-r1", "L2", 0.5, 0.0, 1),
    ]
    assert (data["spent_usd"], data["reserved_usd"]) == (1.75, 2.0)
    budget = data["budget"]
    assert (budget["today_usd"], budget["month_usd"]) == (3.25, 3.75)  # spend + held
    assert budget["remaining_today_usd"] == budget["daily_limit_usd"] - 3.25
    assert data["spend_ledger"] == str(spend_lines)


def test_spend_today_and_since(runner: CliRunner, spend_lines: Path) -> None:
    assert [r["day"] for r in _spend(runner, "--today")["rows"]] == ["2026-01-10"]
    assert [r["day"] for r in _spend(runner, "--since", "2026-01-10")["rows"]] == ["2026-01-10"]
    assert len(_spend(runner, "--since", "2026-01-01")["rows"]) == 2


def test_spend_table(runner: CliRunner, spend_lines: Path) -> None:
    result = runner.invoke(app, ["spend"])
    assert result.exit_code == 0, result.stderr
    assert "2026-01-10  L2     gpt-5.2-pro  1      $1.2500  $2.0000" in result.stdout
    assert "$2.0000 reserved by runs not settled" in result.stdout
    assert "Budget today $3.25 of $" in result.stdout


def test_no_spend_ledger_yet_is_zero_and_creates_nothing(runner: CliRunner) -> None:
    data = _spend(runner)
    assert (data["rows"], data["spent_usd"], data["budget"]["today_usd"]) == ([], 0.0, 0.0)
    assert not _ledger_path().exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--today", "--since", "2026-01-01"], "choose one of --today and --since"),
        (["--since", "yesterday"], "--since must be a date YYYY-MM-DD, got 'yesterday'"),
    ],
)
def test_spend_usage_errors(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["spend", *args])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"aiops: error: {message}\n"


def test_an_unreadable_spend_ledger_is_refused(runner: CliRunner, spend_lines: Path) -> None:
    with spend_lines.open("a") as handle:
        handle.write('{"kind": "spend", "id": "e"}\n')
    result = runner.invoke(app, ["spend"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("aiops: error: spend ledger ")
    assert "line 6 is not a spend record" in result.stderr
    assert result.stderr.count("\n") == 1
