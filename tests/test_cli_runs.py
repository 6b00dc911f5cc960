"""``aiops runs``, ``aiops show``, pack references (path, id, ``latest``) and the run
commands' ``--json`` result: exit code, stdout and stderr, and the JSON against the
schema ``aiops schema`` exports."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

LEDGER = Path("evidence_packs")
FIRST, SECOND, THIRD = (f"EVP-L2-2026-01-10-00{n}" for n in (1, 2, 3))


def _schema(runner: CliRunner, name: str) -> Any:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _run(runner: CliRunner, args: list[str], code: int = 0) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.stderr
    return result


@pytest.fixture
def ledger(runner: CliRunner, pilot_fixtures: dict[str, Path]) -> list[Path]:
    """Three packs: a dry-run (1), a replay (2), a BLOCKED replay (3, a forbidden output)."""
    _run(runner, ["l2", "dry-run"])
    _run(runner, ["l2", "replay"])
    _run(runner, ["l2", "replay", "--fixture", str(pilot_fixtures["violation"])], 2)
    return sorted(LEDGER.iterdir())


# --- run commands: --json --------------------------------------------------------------


@pytest.mark.parametrize("args", [["l2", "dry-run", "--json"], ["l2", "replay", "-j"]])
def test_a_run_with_json_prints_one_object_and_the_summary_on_stderr(
    runner: CliRunner, args: list[str]
) -> None:
    result = _run(runner, args)
    data = json.loads(result.stdout)  # the whole of stdout is the one object
    jsonschema.validate(data, _schema(runner, "run-result"))
    assert data["format"] == {"name": "aiops-run", "version": 1}
    assert (data["pack_id"], data["sequence"], data["status"], data["exit_code"]) == (
        FIRST,
        1,
        "COMPLETED",
        0,
    )
    assert Path(data["pack_path"]).is_dir()
    assert "Run ID" in result.stderr and "Run ID" not in result.stdout
    assert data["mode"] == args[1]


def test_replay_json_separates_recorded_cost_from_spend(runner: CliRunner) -> None:
    data = json.loads(_run(runner, ["l2", "replay", "--json"]).stdout)
    assert data["cost"]["recorded_usd"] > 0
    assert data["cost"]["spent_usd"] == 0.0  # a replay sends nothing
    assert data["models"] == {"proposer": "gpt-5.2-pro", "critic": "deepseek-r1"}
    assert data["critic_decision"] == "APPROVE"


def test_a_blocked_run_with_json_still_reports_its_pack_and_exit_code(
    runner: CliRunner, pilot_fixtures: dict[str, Path]
) -> None:
    fixture = str(pilot_fixtures["violation"])
    result = _run(runner, ["l2", "replay", "--fixture", fixture, "--json"], 2)
    data = json.loads(result.stdout)
    assert (data["status"], data["exit_code"], data["violations"]) == ("BLOCKED", 2, 1)
    assert Path(data["pack_path"]).is_dir()
    assert data["reason"] and data["reason"] in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("aiops: error: ")


# --- pack references ---------------------------------------------------------------------


def test_verify_pack_takes_an_id_or_latest(runner: CliRunner, ledger: list[Path]) -> None:
    latest = json.loads(_run(runner, ["verify-pack", "latest", "--json"]).stdout)
    by_id = json.loads(_run(runner, ["verify-pack", FIRST, "--json"]).stdout)
    assert latest["packs"][0]["path"] == str(ledger[2])
    assert by_id["packs"][0]["path"] == str(ledger[0])


@pytest.mark.parametrize(
    "command", [["verify-pack"], ["show"], ["review", "--approve", "--reviewer", "ops"]]
)
def test_an_unknown_pack_id_is_one_line_and_exit_2(
    runner: CliRunner, ledger: list[Path], command: list[str]
) -> None:
    result = _run(runner, [*command, "EVP-L2-2026-01-10-009"], 2)
    assert result.stdout == ""
    assert result.stderr == (
        "aiops: error: no pack 'EVP-L2-2026-01-10-009' in the ledger evidence_packs\n"
    )


def test_latest_in_an_empty_ledger_is_exit_2(runner: CliRunner) -> None:
    result = _run(runner, ["show", "latest"], 2)
    assert result.stderr.startswith("aiops: error: no evidence packs in evidence_packs")


def test_latest_is_the_highest_sequence_not_the_last_name(
    runner: CliRunner, ledger: list[Path]
) -> None:
    renamed = ledger[2].rename(LEDGER / "A-newest")  # now first by name
    shown = json.loads(_run(runner, ["show", "latest", "--json"]).stdout)
    assert (shown["run"]["sequence"], shown["run"]["pack_path"]) == (3, str(renamed))


def test_latest_is_read_from_aiops_packs_dir(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIOPS_PACKS_DIR", str(tmp_path / "desk"))
    _run(runner, ["l2", "replay"])
    result = _run(runner, ["show", "latest", "--json"])
    assert json.loads(result.stdout)["run"]["pack_path"].startswith(str(tmp_path / "desk"))


def test_pilot_drift_and_review_take_ids(runner: CliRunner, ledger: list[Path]) -> None:
    result = runner.invoke(app, ["pilot", "drift", SECOND, "latest", "--json"])
    assert result.exit_code in (0, 1), result.stderr
    drift = json.loads(result.stdout)
    assert (drift["baseline_pack_id"], drift["current_pack_id"]) == (SECOND, THIRD)
    _run(runner, ["review", SECOND, "--approve", "--reviewer", "ops"])
    assert (ledger[1] / "review.json").is_file()


# --- aiops runs ------------------------------------------------------------------------


def test_runs_lists_newest_first_with_status_critic_and_cost(
    runner: CliRunner, ledger: list[Path]
) -> None:
    result = _run(runner, ["runs", "--json"])
    assert result.stderr == ""
    data = json.loads(result.stdout)
    jsonschema.validate(data, _schema(runner, "runs"))
    rows = data["runs"]
    assert [r["pack_id"] for r in rows] == [THIRD, SECOND, FIRST]
    assert [r["status"] for r in rows] == ["BLOCKED", "COMPLETED", "COMPLETED"]
    assert [r["mode"] for r in rows] == ["replay", "replay", "dry-run"]
    replay = rows[1]
    assert (replay["critic_decision"], replay["proposer_model"], replay["spent"]) == (
        "APPROVE",
        "gpt-5.2-pro",
        False,
    )
    assert replay["cost_usd"] > 0


def test_runs_table_names_every_pack(runner: CliRunner, ledger: list[Path]) -> None:
    result = _run(runner, ["runs"])
    lines = result.stdout.splitlines()
    assert lines[0] == "Runs in evidence_packs: 3 packs"
    assert [line.split()[1] for line in lines[2:]] == [THIRD, SECOND, FIRST]
    assert "(recorded)" in lines[3] and "APPROVE" in lines[3]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--mode", "dry-run"], [FIRST]),
        (["--status", "blocked"], [THIRD]),
        (["--layer", "L2", "--mode", "replay"], [THIRD, SECOND]),
        (["--layer", "l3"], []),
        (["--since", "2026-01-11"], []),
        (["--since", "2026-01-10"], [THIRD, SECOND, FIRST]),
        (["--unreviewed"], [THIRD, FIRST]),
    ],
)
def test_runs_filters(
    runner: CliRunner, ledger: list[Path], filters: list[str], expected: list[str]
) -> None:
    _run(runner, ["review", SECOND, "--approve", "--reviewer", "ops"])
    rows = json.loads(_run(runner, ["runs", "--json", *filters]).stdout)["runs"]
    assert [r["pack_id"] for r in rows] == expected


def test_runs_shows_the_review(runner: CliRunner, ledger: list[Path]) -> None:
    _run(runner, ["review", SECOND, "--reject", "--reviewer", "ops"])
    row = json.loads(_run(runner, ["runs", "--json", "--status", "completed"]).stdout)["runs"][0]
    assert (row["review"], row["reviewer"]) == ("REJECT", "ops")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--since", "10/01/2026"), ("--mode", "shadow"), ("--status", "OK"), ("--layer", "l9")],
)
def test_runs_bad_filter_is_one_line_exit_2(
    runner: CliRunner, ledger: list[Path], option: str, value: str
) -> None:
    result = _run(runner, ["runs", option, value], 2)
    assert result.stdout == ""
    assert result.stderr.startswith(f"aiops: error: {option} must be")
    assert result.stderr.count("\n") == 1


def test_runs_lists_around_what_verify_pack_rejects(runner: CliRunner, ledger: list[Path]) -> None:
    (ledger[0] / "evidence_pack.json").write_text('{"sequence": 1, "sequence": 1}')
    (ledger[1] / "critic_output.json").write_text("[1, 2")
    result = _run(runner, ["runs", "--json"])
    data = json.loads(result.stdout)
    assert [r["pack_id"] for r in data["runs"]] == [THIRD, SECOND]
    assert len(data["unreadable"]) == 1 and ledger[0].name in data["unreadable"][0]
    damaged = data["runs"][1]
    assert damaged["critic_decision"] is None and damaged["cost_usd"] is None
    assert any("critic_output.json" in p for p in damaged["problems"])
    table = _run(runner, ["runs"])
    assert "warning: not listed:" in table.stderr


def test_runs_sees_a_change_made_after_an_earlier_listing(
    runner: CliRunner, ledger: list[Path], tmp_path: Path
) -> None:
    before = json.loads(_run(runner, ["runs", "--json"]).stdout)
    assert list((tmp_path / "user-cache" / "aiops" / "runs").iterdir())  # rows were kept
    critic = ledger[1] / "critic_output.json"
    stat = critic.stat()
    critic.write_text(critic.read_text().replace('"APPROVE"', '"REJECT"'))
    os.utime(critic, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old time put back
    _run(runner, ["review", FIRST, "--approve", "--reviewer", "ops"])
    after = json.loads(_run(runner, ["runs", "--json"]).stdout)
    assert before["runs"][1]["critic_decision"] == "APPROVE"
    assert after["runs"][1]["critic_decision"] == "REJECT"
    assert (before["runs"][2]["review"], after["runs"][2]["review"]) == ("unreviewed", "APPROVE")


def test_a_damaged_row_cache_is_ignored(
    runner: CliRunner, ledger: list[Path], tmp_path: Path
) -> None:
    expected = _run(runner, ["runs", "--json"]).stdout
    (cache,) = (tmp_path / "user-cache" / "aiops" / "runs").iterdir()
    document = json.loads(cache.read_text())
    for entry in document["entries"].values():
        entry["row"]["status"] = "NOT A STATUS"
    cache.write_text(json.dumps(document))
    assert _run(runner, ["runs", "--json"]).stdout == expected
    cache.write_text("{")
    assert _run(runner, ["runs", "--json"]).stdout == expected


def test_runs_on_a_missing_ledger_is_exit_2(runner: CliRunner) -> None:
    result = _run(runner, ["runs", "--ledger", "nowhere"], 2)
    assert result.stderr == "aiops: error: ledger nowhere is not a directory\n"


# --- aiops show ------------------------------------------------------------------------


def test_show_renders_the_operator_output_and_verification(
    runner: CliRunner, ledger: list[Path]
) -> None:
    result = _run(runner, ["show", SECOND])
    assert "VERIFIED" in result.stdout and "NOT VERIFIED" not in result.stdout
    operator = (ledger[1] / "operator_output.md").read_text()
    for line in operator.splitlines():
        assert line.rstrip() in result.stdout
    data = json.loads(_run(runner, ["show", SECOND, "--json"]).stdout)
    jsonschema.validate(data, _schema(runner, "show"))
    assert data["operator_output"] == operator
    assert (data["verified"], data["verification"]) == (True, [])


def test_show_says_when_a_pack_does_not_verify(runner: CliRunner, ledger: list[Path]) -> None:
    target = ledger[1] / "operator_output.md"
    target.write_text(target.read_text() + "\nApproved by everyone.\n")
    data = json.loads(_run(runner, ["show", str(ledger[1]), "--json"]).stdout)
    assert data["verified"] is False
    assert any("operator_output.md" in line for line in data["verification"])
    assert "NOT VERIFIED" in _run(runner, ["show", str(ledger[1])]).stdout


def test_show_of_a_directory_that_is_not_a_pack_is_exit_2(runner: CliRunner) -> None:
    Path("empty").mkdir()
    result = _run(runner, ["show", "empty"], 2)
    assert result.stderr == "aiops: error: empty is not an evidence pack (no evidence_pack.json)\n"


@pytest.mark.parametrize("reference", ["latest", THIRD])
def test_a_reference_two_packs_answer_to_is_refused(
    runner: CliRunner, ledger: list[Path], reference: str
) -> None:
    shutil.copytree(ledger[2], LEDGER / "copy-of-third")
    result = _run(runner, ["show", reference], 2)
    assert result.stdout == ""
    assert result.stderr.startswith(f"aiops: error: {reference!r} is ambiguous in the ledger")
    assert "copy-of-third" in result.stderr and result.stderr.count("\n") == 1


def test_an_existing_path_wins_over_a_reference(runner: CliRunner, ledger: list[Path]) -> None:
    shutil.copytree(ledger[0], Path("latest"))
    shown = json.loads(_run(runner, ["show", "latest", "--json"]).stdout)
    assert (shown["run"]["pack_path"], shown["run"]["sequence"]) == ("latest", 1)


# --- live runs with --json ---------------------------------------------------------------

LIVE_JSON = ["l2", "live", "--allow-network", "--yes", "--json"]


def test_live_json_counts_the_cost_as_spent(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback)
    result = _run(runner, LIVE_JSON)
    data = json.loads(result.stdout)
    jsonschema.validate(data, _schema(runner, "run-result"))
    assert (data["mode"], data["status"], data["exit_code"]) == ("live", "COMPLETED", 0)
    assert data["cost"]["spent_usd"] == data["cost"]["recorded_usd"] > 0
    assert "WARNING: NETWORK MODE ENABLED" in result.stderr and "Run ID" in result.stderr


def test_live_json_of_a_rejected_run_exits_1_with_the_object(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback, decision="REJECT")
    result = _run(runner, LIVE_JSON, 1)
    data = json.loads(result.stdout)
    assert (data["status"], data["exit_code"], data["critic_decision"]) == ("REJECTED", 1, "REJECT")
    assert "critic rejected" in result.stderr


def test_show_and_runs_of_a_pack_missing_files(runner: CliRunner, ledger: list[Path]) -> None:
    (ledger[1] / "operator_output.md").unlink()
    (ledger[1] / "review.json").write_text('{"decision": "APPROVE"}')
    result = _run(runner, ["show", SECOND])
    assert "operator_output.md cannot be read" in result.stdout
    assert "NOT VERIFIED" in result.stdout
    data = json.loads(_run(runner, ["show", SECOND, "--json"]).stdout)
    assert (data["operator_output"], data["verified"], data["run"]["review"]) == (
        None,
        False,
        "invalid",
    )
    assert any("review.json" in p for p in data["run"]["problems"])
