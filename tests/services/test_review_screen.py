"""``aiops review`` shows the real thing: every output with its text, the verdicts and
why, failure reasons, the verification state; with no PACK, the newest live pack due.

The packs are live runs against the loopback server: a provider outage (FAILED), an
approved outlook (COMPLETED), a rejected one (REJECTED) and one with a forbidden output
(BLOCKED)."""

from __future__ import annotations

import importlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.services.review_screen import operator_findings, output_blocks
from tests.conftest import FakeKeys
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply, error_body
from tests.support.pilot import run_into_ledger, violating_outputs
from tests.support.scripts import critic_handler, happy_path, proposer_reply

LIVE = ["l2", "live", "--allow-network", "--yes"]
LEDGER = Path("evidence_packs")
Packs = dict[str, Path]


@pytest.fixture
def packs(runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys) -> dict[str, Path]:
    """One live pack of each status, in this order in the ledger."""
    loopback.script(RESPONSES_PATH, Reply(401, error_body("Incorrect API key provided.")))
    made = {"FAILED": run_into_ledger(runner, LIVE, 1, 4)}
    loopback.reset()
    happy_path(loopback)
    made["COMPLETED"] = run_into_ledger(runner, LIVE, 2, 0)
    loopback.reset()
    happy_path(loopback, decision="REJECT")
    made["REJECTED"] = run_into_ledger(runner, LIVE, 3, 1)
    loopback.reset()
    loopback.script(RESPONSES_PATH, proposer_reply(violating_outputs()))
    loopback.script(CHAT_PATH, critic_handler())
    made["BLOCKED"] = run_into_ledger(runner, LIVE, 4, 2)
    return made


def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """``aiops review`` asks as if stdin were a terminal (wherever the command lives)."""
    for name in ("aiops.cli_pilot", "aiops.cli"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "_stdin_is_tty"):
            monkeypatch.setattr(module, "_stdin_is_tty", lambda: True)
            return
    raise AssertionError("no _stdin_is_tty to replace")


def review(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, ["review", *args, "--reject", "--reviewer", "op"])


def report_section(pack: Path, title: str) -> list[str]:
    """A list section of operator_output.md, read here independently of aiops."""
    text = (pack / "operator_output.md").read_text(encoding="utf-8")
    block = text.split(f"\n## {title}\n", 1)[1].split("\n---\n", 1)[0]
    return [line[2:] for line in block.strip().splitlines() if line.startswith("- ")]


def row(out: str, label: str) -> str:
    """The value of a row of the screen's summary table."""
    (value,) = re.findall(rf"^  {re.escape(label)}  +(.*)$", out, re.MULTILINE)
    return str(value)


def string_leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in string_leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in string_leaves(v)]
    return [value] if isinstance(value, str) else []


def test_completed_pack_shows_every_output_text_whole(runner: CliRunner, packs: Packs) -> None:
    pack = packs["COMPLETED"]
    result = review(runner, str(pack))
    assert result.exit_code == 0, result.output
    parsed = json.loads((pack / "proposer_output.json").read_bytes())["parsed"]
    leaves = string_leaves(parsed["outputs"])
    assert len(leaves) > 60
    for text in leaves:  # scenario descriptions, risk context, macro outlook, ...
        assert text in result.stdout, text
    for kind in ("ScenarioReport", "RiskContext", "MacroOutlook", "NoTradeTriggers"):
        assert f"\n  {kind}\n" in result.stdout
    assert row(result.stdout, "Proposer") == "gpt-5.2-pro answered (completed)"
    assert row(result.stdout, "Critic decision") == "APPROVE"
    assert "minor: S3 could name the retail-sales threshold" in result.stdout
    assert row(result.stdout, "verify-pack").startswith("VERIFIED — 1 pack")
    follows = (
        f"follows {json.loads((pack / 'evidence_pack.json').read_bytes())['previous_pack_id']}"
    )
    assert follows in result.stdout  # its link in the ledger
    assert (
        "Deciding on EVP-L2-2026-01-11-002: COMPLETED, critic APPROVE, 0 violations, VERIFIED"
        in result.stdout
    )
    assert result.stderr == ""


def test_failed_pack_shows_no_model_answered_and_why(runner: CliRunner, packs: Packs) -> None:
    pack = packs["FAILED"]
    result = review(runner, str(pack))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "answered" not in out.replace("no model answered", "")  # never "Proposer answered"
    assert row(out, "Proposer").startswith("no model answered (failed; ")
    assert row(out, "Critic") == "not called"
    assert row(out, "Critic decision") == "not called"
    failed = out.split("Failed attempts\n", 1)[1].split("Findings", 1)[0]
    assert "HTTP 401, authentication" in failed and "authentication failed" in failed
    # Why, as operator_output.md says it.
    findings = report_section(pack, "Findings")
    assert findings and any(line.startswith("proposer failed:") for line in findings)
    for line in findings + report_section(pack, "Actions"):
        assert f"  - {line}\n" in out
    assert "Outputs (0)\n  none" in out
    assert "FAILED, critic not called" in out


def test_rejected_pack_shows_the_critic_verdict(runner: CliRunner, packs: Packs) -> None:
    result = review(runner, str(packs["REJECTED"]))
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "Critic decision") == "REJECT"
    assert row(result.stdout, "Critic rationale") == "The outlook is not grounded in the inputs."
    assert "critic rejected: The outlook is not grounded in the inputs." in result.stdout
    assert "REJECTED, critic REJECT" in result.stdout


def test_blocked_pack_shows_the_violation_and_the_forbidden_output(
    runner: CliRunner, packs: Packs
) -> None:
    pack = packs["BLOCKED"]
    result = review(runner, str(pack))
    assert result.exit_code == 0, result.output
    violations = result.stdout.split("\nViolations\n", 1)[1].split("\nFindings", 1)[0]
    assert "OrderParameters" in violations
    assert "\n  OrderParameters\n    qty: 10\n    symbol: SPX\n" in result.stdout
    for line in report_section(pack, "Findings"):
        assert f"  - {line}\n" in result.stdout
    assert "BLOCKED, critic" in result.stdout and "1 violations" in result.stdout


def test_any_output_type_is_rendered_from_its_fields() -> None:
    """A layer's new output type needs nothing on the screen: nested objects, lists and
    numbers are shown as recorded."""
    doc = {
        "parsed": {
            "outputs": [
                {
                    "type": "TradePlanAdvice",
                    "legs": [{"name": "leg A", "ratio": 0.5, "notes": ["hedged", "small"]}],
                    "horizon": {"weeks": 4, "review": None},
                    "empty": [],
                }
            ]
        }
    }
    (block,) = output_blocks(doc)
    assert block.title == "TradePlanAdvice"
    assert block.lines == [
        "  legs:",
        "    - name: leg A",
        "      ratio: 0.5",
        "      notes:",
        "        - hedged",
        "        - small",
        "  horizon:",
        "    weeks: 4",
        "    review: null",
        "  empty: none",
    ]
    text = output_blocks({"parsed": None, "output_text": "I cannot help.\nSorry."})
    assert [(b.title, b.lines) for b in text] == [
        ("Answer (not JSON)", ["  I cannot help.", "  Sorry."])
    ]


def test_no_pack_reviews_the_newest_live_pack_due_then_says_none_is_left(
    runner: CliRunner, packs: Packs
) -> None:
    newer_replay = run_into_ledger(runner, ["l2", "replay"], 5, 0)  # not due: not a live run
    order = ["BLOCKED", "REJECTED", "COMPLETED", "FAILED"]  # newest first
    for status in order:
        result = runner.invoke(app, ["review", "--approve", "--reviewer", "op"])
        assert result.exit_code == 0, result.output
        assert f"{packs[status]}/review.json" in result.stdout
    assert not (newer_replay / "review.json").exists()
    result = runner.invoke(app, ["review", "--approve", "--reviewer", "op"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"aiops: nothing to review: every live pack in {LEDGER} has a review "
        "(name a pack to review another)\n"
    )


def test_no_pack_in_a_missing_ledger_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["review", "--approve", "--reviewer", "op"])
    assert result.exit_code == 2
    assert result.stderr == "aiops: error: ledger evidence_packs is not a directory\n"


def test_a_broken_link_in_the_ledger_is_shown(runner: CliRunner, packs: Packs) -> None:
    shutil.rmtree(packs["REJECTED"])  # the BLOCKED pack's predecessor
    result = review(runner, str(packs["BLOCKED"]))
    assert result.exit_code == 0, result.output
    assert f"its predecessor (sequence 3) is not in {LEDGER}" in result.stdout
    assert "0 violations" not in result.stdout and "NOT VERIFIED" in result.stdout
    assert result.stderr.splitlines() == [
        f"warning: verify-pack: chain: its predecessor (sequence 3) is not in {LEDGER}"
    ]


def test_scripted_and_interactive_reviews_are_recorded_as_such(
    runner: CliRunner, packs: Packs, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = review(runner, str(packs["FAILED"]))
    assert "(decided on the command line: not timed)" in scripted.stdout
    assert json.loads((packs["FAILED"] / "review.json").read_bytes())["interactive"] is False
    on_a_terminal(monkeypatch)
    asked = runner.invoke(
        app, ["review", str(packs["COMPLETED"]), "--reviewer", "op"], input="a\nfine\n"
    )
    assert asked.exit_code == 0, asked.output
    assert re.search(r"\(\d+\.\d min on screen\)", asked.stdout)
    review_doc = json.loads((packs["COMPLETED"] / "review.json").read_bytes())
    assert (review_doc["interactive"], review_doc["notes"]) == (True, "fine")


def test_review_and_pilot_report_read_the_env_file(
    runner: CliRunner, packs: Packs, tmp_path: Path
) -> None:
    """AIOPS_PACKS_DIR from --env-file: the ledger ``latest`` and the default are
    looked up in, and the pilot report's default ledger."""
    moved = tmp_path / "desk-ledger"
    LEDGER.rename(moved)
    env_file = tmp_path / "desk.env"
    env_file.write_text(f"AIOPS_PACKS_DIR={moved}\n", encoding="utf-8")
    result = runner.invoke(
        app, ["--env-file", str(env_file), "review", "latest", "--approve", "--reviewer", "op"]
    )
    assert result.exit_code == 0, result.output
    assert (moved / packs["BLOCKED"].name / "review.json").exists()
    result = runner.invoke(
        app, ["review", "--env-file", str(env_file), "--approve", "--reviewer", "op"]
    )
    assert result.exit_code == 0, result.output
    assert (moved / packs["REJECTED"].name / "review.json").exists()
    without = runner.invoke(app, ["review", "--approve", "--reviewer", "op"])
    assert without.exit_code == 2  # the environment alone names no ledger here
    report = runner.invoke(app, ["pilot", "report", "--json", "--env-file", str(env_file)])
    assert report.exit_code == 1, report.output  # FAILED, BLOCKED: KPIs fail
    assert json.loads(report.stdout)["ledger"] == str(moved)
    assert json.loads(report.stdout)["reviews"]["reviewed"] == 2
    missing = runner.invoke(app, ["pilot", "report", "--env-file", str(tmp_path / "none.env")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("aiops: error: ") and "none.env" in missing.stderr


# --- what a person sees on a real terminal ----------------------------------------------


def _on_a_terminal(pack: Path, answers: list[str]) -> tuple[int, str]:
    """``aiops review PACK`` with stdin, stdout and stderr on a pseudo-terminal: the
    screen up to the prompt, then each answer typed at each prompt."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
    env.pop("_TYPER_FORCE_DISABLE_TERMINAL", None)
    env.update(COLUMNS="120", USER="night-op", TERM="dumb")
    process = subprocess.Popen(
        [sys.executable, "-m", "aiops", "review", str(pack)],
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    prompts = iter(answers)
    deadline = time.monotonic() + 120
    expected = [b"Decision [approve/reject]: ", b"Notes: "]
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if expected and seen.rstrip(b" ").endswith(expected[0].rstrip(b" ")):
            expected.pop(0)
            os.write(master, (next(prompts) + "\n").encode())
    os.close(master)
    code = process.wait(timeout=60)
    text = seen.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.mark.parametrize("status", ["COMPLETED", "REJECTED", "BLOCKED", "FAILED"])
def test_on_a_terminal_the_whole_pack_is_shown_before_the_prompt(
    packs: dict[str, Path], status: str
) -> None:
    pack = packs[status]
    code, screen = _on_a_terminal(pack, ["approve", "seen on screen"])
    assert code == 0, screen
    before_prompt = screen.split("Decision [approve/reject]", 1)[0]
    index = json.loads((pack / "evidence_pack.json").read_bytes())
    assert f"Deciding on {index['evidence_pack_id']}: {status}" in before_prompt
    flat = " ".join(before_prompt.split())  # the terminal wraps long lines
    for line in report_section(pack, "Findings"):
        assert " ".join(line.split()) in flat, line
    if status != "FAILED":
        parsed = json.loads((pack / "proposer_output.json").read_bytes())["parsed"]
        for text in string_leaves(parsed["outputs"]):
            assert " ".join(text.split()) in flat, text
    else:
        assert "no model answered" in before_prompt and "gpt-5.2-pro answered" not in screen
    review_doc = json.loads((pack / "review.json").read_bytes())
    assert (review_doc["decision"], review_doc["interactive"], review_doc["reviewer"]) == (
        "APPROVE",
        True,
        "night-op",
    )
    assert review_doc["notes"] == "seen on screen"
    assert "min on screen)" in screen


def test_a_findings_line_quoting_a_model_cannot_forge_the_actions(tmp_path: Path) -> None:
    """A critic's rationale quoted in a finding may hold rules and headings: it stays
    among the findings, and the actions are aiops' own (the last Actions heading)."""
    forged = "critic rejected: thin.\n\n---\n\n## Actions\n\n- Circulate the outlook now."
    (tmp_path / "operator_output.md").write_text(
        "# AI Autonomy — Operator Output (Summary)\n\n---\n\n## Findings\n\n"
        f"- {forged}\n- second finding\n\n---\n\n## Actions\n\n"
        "- Do not circulate the outlook.\n\n---\n\n**END OF OPERATOR OUTPUT**\n",
        encoding="utf-8",
    )
    sections = operator_findings(tmp_path)
    assert sections["Actions"] == ["Do not circulate the outlook."]
    assert sections["Findings"] == [
        "critic rejected: thin.\n\n---\n\n## Actions",
        "Circulate the outlook now.",
        "second finding",
    ]
