"""Replay, record and live runs end to end through the CLI: exit code, stdout, stderr
and the pack, for the happy path and every fault of the issue."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.resources import fixtures_dir
from tests.conftest import FakeKeys
from tests.services.packs import only_pack, read
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    Handler,
    LoopbackServer,
    Reply,
    chat_answer,
    error_body,
    responses_answer,
)
from tests.support.scripts import critic_handler, happy_path, proposer_reply

SAMPLE_FIXTURE = fixtures_dir() / "transcripts" / "l2_market_outlook_sample.json"
LIVE = ["l2", "live", "--allow-network", "--yes"]


# --- replay ------------------------------------------------------------------------------


def test_replay_of_the_shipped_sample_completes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "COMPLETED" in result.stdout and "decision APPROVE" in result.stdout
    pack = only_pack()
    index = read(pack, "evidence_pack.json")
    assert index["status"] == "COMPLETED" and index["mode"] == "replay"
    assert index["network_used"] is False
    assert {a["name"] for a in index["artifacts"]} == {
        "capability_scope_check.json",
        "critic_output.json",
        "operator_output.md",
        "proposer_output.json",
        "run_manifest.json",
        "sod_check.json",
        "web_sources.json",
    }
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    assert proposer["model_id"] == "gpt-5.2-pro" and proposer["endpoint_kind"] == "responses"
    assert proposer["usage"] == {
        "input_tokens": 2817,
        "output_tokens": 1954,
        "reasoning_tokens": 896,
    }
    assert critic["decision"] == "APPROVE"
    assert critic["evidence_ids"] == [proposer["output_hash"]]
    assert index["proposer"]["output_hash"] == proposer["output_hash"]
    manifest = read(pack, "run_manifest.json")
    assert manifest["prompt_id"] == "l2_market_outlook" and manifest["config"]["prompt_sha256"]
    assert (
        manifest["inputs_manifest"][0]["path"]
        == "fixtures/market_snapshots/l2_sample_snapshot.json"
    )


def test_two_replays_are_byte_identical(runner: CliRunner) -> None:
    for ledger in ("a", "b"):
        assert runner.invoke(app, ["l2", "replay", "--out", f"{ledger}/pack"]).exit_code == 0
    names = sorted(p.name for p in Path("a/pack").iterdir())
    assert names == sorted(p.name for p in Path("b/pack").iterdir())
    for name in names:
        assert (Path("a/pack") / name).read_bytes() == (Path("b/pack") / name).read_bytes(), name


def test_replay_miss_names_the_hash_and_suggests_record(runner: CliRunner) -> None:
    snapshot = Path("data/market_snapshots/today.json")
    snapshot.parent.mkdir(parents=True)
    snapshot.write_text('{"as_of": "2026-01-09", "VIX": 30}\n')
    result = runner.invoke(app, ["l2", "replay", "--input", str(snapshot)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "replay miss" in result.stderr and "prompt_hash sha256:" in result.stderr
    assert "aiops l2 record --allow-network --fixture" in result.stderr
    assert not Path("evidence_packs").exists() or not any(Path("evidence_packs").iterdir())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ('{"transcript_id": "\\ud800"}', "not valid JSON"),
        ('{"runs": [], "runs": []}', "not valid JSON"),
        ('{"runs": []}', "malformed at transcript_id"),
    ],
)
def test_bad_fixture_exits_2(runner: CliRunner, content: str | None, message: str) -> None:
    fixture = Path("fixture.json")
    if content is not None:
        fixture.write_text(content)
    result = runner.invoke(app, ["l2", "replay", "--fixture", str(fixture)])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.startswith("aiops: error: ")
    assert "Traceback" not in result.stderr


def test_fixture_from_another_layer_exits_2(runner: CliRunner) -> None:
    data = json.loads(SAMPLE_FIXTURE.read_text())
    data["layer_id"] = "L3"
    Path("other.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["l2", "replay", "--fixture", "other.json"])
    assert result.exit_code == 2
    assert "recorded for layer L3, not L2" in result.stderr


def test_layer_without_prompt_explains(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l0", "replay"])
    assert result.exit_code == 2
    assert "L0 (Ops/Docs) has no prompt configured" in result.stderr


@pytest.mark.parametrize(("layer", "message"), [("l6", "EXEC"), ("l5", "deterministic code only")])
def test_forbidden_layers_refuse_every_mode(runner: CliRunner, layer: str, message: str) -> None:
    for argv in (["replay"], ["live", "--allow-network", "--yes"]):
        result = runner.invoke(app, [layer, *argv])
        assert result.exit_code == 2 and message in result.stderr


def test_forbidden_input_exits_2_before_anything(runner: CliRunner) -> None:
    Path(".env").write_text("OPENAI_API_KEY=x\n")
    result = runner.invoke(app, ["l2", "replay", "--input", ".env"])
    assert result.exit_code == 2 and "forbidden by L2_market_outlook" in result.stderr
    assert not Path("evidence_packs").exists()


# --- network opt-in ----------------------------------------------------------------------


def test_live_without_allow_network_sends_nothing(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    result = runner.invoke(app, ["l2", "live"])
    assert result.exit_code == 2
    assert "--allow-network" in result.stderr and "nothing was sent" in result.stderr
    assert loopback.requests == []


def test_record_without_allow_network_sends_nothing(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    result = runner.invoke(app, ["l2", "record", "--fixture", "f.json"])
    assert result.exit_code == 2 and "--allow-network" in result.stderr
    assert loopback.requests == [] and not Path("f.json").exists()


def test_no_terminal_and_no_yes_refuses_after_the_banner(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    result = runner.invoke(app, ["l2", "live", "--allow-network"])
    assert result.exit_code == 2
    assert "WARNING: NETWORK MODE ENABLED" in result.stderr
    assert "pass --yes" in result.stderr
    assert loopback.requests == []


def test_missing_key_exits_2_naming_the_variable(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "DEEPSEEK_API_KEY is not set" in result.stderr
    assert network_env.openai not in result.stderr
    assert loopback.requests == []


def test_banner_shows_models_endpoints_and_worst_case_cost(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    banner = result.stderr
    assert "WARNING: NETWORK MODE ENABLED" in banner
    for text in ("gpt-5.2-pro", "gpt-5.2 ", "deepseek-r1", loopback.base_url + "/responses"):
        assert text in banner
    assert "worst case $" in banner and "NO-LIVE" in banner
    # 16,000 output tokens of gpt-5.2-pro alone cost 16 x $0.168 = $2.69.
    worst = float(banner.split("worst case $")[1].split()[0])
    assert worst > 2.69


# --- live outcomes -------------------------------------------------------------------------


def test_live_completed(runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys) -> None:
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "COMPLETED" in result.stdout
    pack = only_pack()
    index = read(pack, "evidence_pack.json")
    assert (index["status"], index["mode"], index["network_used"]) == ("COMPLETED", "live", True)
    assert [r.path for r in loopback.requests] == [RESPONSES_PATH, CHAT_PATH]
    critic_prompt = loopback.requests[1].body["messages"][1]["content"]
    proposer = read(pack, "proposer_output.json")
    assert proposer["output_hash"] in critic_prompt
    assert proposer["output_text"] in critic_prompt
    assert proposer["attempts"][0]["endpoint"] == loopback.base_url + "/responses"


def test_critic_reject_exits_1(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback, decision="REJECT")
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 1
    assert "REJECTED" in result.stdout
    assert "critic rejected" in result.stderr
    assert read(only_pack(), "evidence_pack.json")["status"] == "REJECTED"


def test_scope_violation_blocks_but_writes_the_pack_and_still_runs_the_critic(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    outputs = sample.proposer_outputs()
    outputs["outputs"].append({"type": "OrderParameters", "symbol": "SPX", "qty": 10})
    outputs["outputs"][0]["scenarios"][0]["signposts"].append({"type": "ExecutionCommand"})
    loopback.script(RESPONSES_PATH, proposer_reply(outputs))
    loopback.script(CHAT_PATH, critic_handler("APPROVE"))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "BLOCKED" in result.stdout
    assert "capability scope violated: 3 violation(s)" in result.stderr
    pack = only_pack()
    scope = read(pack, "capability_scope_check.json")
    assert scope["result"] == "FAIL" and scope["outputs_checked"] is True
    forbidden = [v for v in scope["violations"] if v["rule"] == "forbidden_output_type"]
    assert [v["rule"] for v in scope["violations"]].count("output_schema") == 1
    assert [v["location"] for v in forbidden] == [
        "$.outputs[0].scenarios[0].signposts[3]",
        "$.outputs[6]",
    ]
    assert read(pack, "evidence_pack.json")["status"] == "BLOCKED"
    assert read(pack, "critic_output.json")["decision"] == "APPROVE"  # shown, not obeyed
    assert len(loopback.requests) == 2


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        (critic_handler(raw="I approve this outlook."), "critic output is not JSON"),
        (critic_handler(mutate=lambda v: {**v, "decision": "OK"}), "'OK' is not one of"),
        (
            critic_handler(mutate=lambda v: {**v, "evidence_ids": ["proposer_output.json"]}),
            "do not cite the proposer output sha256:",
        ),
    ],
)
def test_critic_failing_closed_blocks(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    handler: Handler,
    problem: str,
) -> None:
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, handler)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert problem in result.stderr and "fails closed" in result.stderr
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "BLOCKED"
    assert problem in (pack / "operator_output.md").read_text()


def test_critic_incomplete_blocks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, Reply(body=chat_answer('{"decision": "APP', finish_reason="length")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "critic deepseek-r1 answer incomplete (max_output_tokens)" in result.stderr
    critic = read(only_pack(), "critic_output.json")
    assert critic["outcome"] == "incomplete" and critic["decision"] is None


def test_proposer_refusal_fails_closed_without_calling_the_critic(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(
        RESPONSES_PATH, Reply(body=responses_answer(None, refusal="I can't help with that."))
    )
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "proposer gpt-5.2-pro refused: I can't help with that." in result.stderr
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert read(pack, "proposer_output.json")["outcome"] == "refused"
    assert not (pack / "critic_output.json").exists()
    assert [r.path for r in loopback.requests] == [RESPONSES_PATH]  # no fallback either


def test_proposer_incomplete_fails_closed(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(
        RESPONSES_PATH,
        Reply(
            body=responses_answer(
                '{"outputs": [', status="incomplete", incomplete_reason="max_output_tokens"
            )
        ),
    )
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "answer incomplete (max_output_tokens)" in result.stderr


def test_fallback_answers_when_the_primary_fails(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(
        RESPONSES_PATH,
        Reply(400, error_body("Unsupported parameter")),  # not retried: next model at once
        Reply(body=responses_answer(sample.proposer_text(), model="gpt-5.2")),
    )
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert [r.body["model"] for r in loopback.requests] == ["gpt-5.2-pro", "gpt-5.2", "deepseek-r1"]
    pack = only_pack()
    proposer = read(pack, "proposer_output.json")
    assert proposer["model_id"] == "gpt-5.2" and proposer["provider_model"] == "gpt-5.2"
    assert [(a["model_id"], a["http_status"], a["error_class"]) for a in proposer["attempts"]] == [
        ("gpt-5.2-pro", 400, "bad_request"),
        ("gpt-5.2", 200, None),
    ]
    assert read(pack, "sod_check.json")["proposer_model_id"] == "gpt-5.2"
    alert = "fallback: gpt-5.2 answered after gpt-5.2-pro (bad_request) failed"
    assert alert in (pack / "operator_output.md").read_text()
    assert f"warning: {alert}" in result.stderr


def test_auth_failure_on_every_candidate_is_a_failed_pack(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(
        RESPONSES_PATH, Reply(401, error_body(f"Incorrect API key provided: {network_env.openai}"))
    )
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "all 2 model(s) failed: gpt-5.2-pro (authentication), gpt-5.2 (authentication)" in (
        result.stderr
    )
    assert "authentication failed (check OPENAI_API_KEY)" in result.stderr
    assert network_env.openai not in result.stderr + result.stdout
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    attempts = read(pack, "proposer_output.json")["attempts"]
    assert [(a["model_id"], a["http_status"]) for a in attempts] == [
        ("gpt-5.2-pro", 401),
        ("gpt-5.2", 401),
    ]
    assert [r.path for r in loopback.requests] == [
        RESPONSES_PATH,
        RESPONSES_PATH,
    ]  # never the critic


def test_critic_provider_failure_is_failed_with_the_proposer_output_kept(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, Reply(500, error_body("boom")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "critic failed" in result.stderr
    pack = only_pack()
    assert read(pack, "proposer_output.json")["outcome"] == "completed"
    critic = read(pack, "critic_output.json")
    assert critic["outcome"] == "failed"
    assert [a["http_status"] for a in critic["attempts"]] == [500, 500, 500]  # retried, no fallback
    assert len([r for r in loopback.requests if r.path == CHAT_PATH]) == 3
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 0


# --- record ------------------------------------------------------------------------------


def test_record_writes_fixture_and_transcript_without_keys(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback)
    result = runner.invoke(
        app, ["l2", "record", "--allow-network", "--yes", "--fixture", "rec/new.json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "Fixture written to rec/new.json" in result.stdout
    fixture = Path("rec/new.json").read_bytes()
    pack = only_pack()
    assert (pack / "transcript.json").read_bytes() == fixture
    for key in network_env.all():
        assert key.encode() not in fixture
    assert b"authorization" not in fixture.lower() and b"bearer" not in fixture.lower()
    data = json.loads(fixture)
    assert [run["role"] for run in data["runs"]] == ["proposer", "critic"]
    assert list(data) == sorted(data)
    # The proposer (gpt-5.2-pro) is a background call: the transport's fields are sent
    # beside the recorded request, which keeps the desk's store: false.
    sent = loopback.requests[0].body
    assert sent == {**data["runs"][0]["request"], "background": True, "store": True}
    assert data["runs"][1]["request"] == loopback.requests[1].body  # the critic: blocking


def test_record_refuses_to_overwrite_before_sending(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    Path("old.json").write_text("keep me")
    result = runner.invoke(
        app, ["l2", "record", "--allow-network", "--yes", "--fixture", "old.json"]
    )
    assert result.exit_code == 2 and "pass --force" in result.stderr
    assert Path("old.json").read_text() == "keep me" and loopback.requests == []
    happy_path(loopback)
    forced = ["l2", "record", "--allow-network", "--yes", "--force", "--fixture", "old.json"]
    assert runner.invoke(app, forced).exit_code == 0
    assert json.loads(Path("old.json").read_text())["layer_id"] == "L2"


def test_a_fixture_that_appears_during_the_run_is_kept_and_the_pack_named(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    critic = critic_handler()

    def meanwhile(captured: Captured) -> Reply:
        Path("new.json").write_text("another run's fixture")  # while the calls run
        reply: Reply = critic(captured)
        return reply

    loopback.script(RESPONSES_PATH, proposer_reply())
    loopback.script(CHAT_PATH, meanwhile)
    result = runner.invoke(
        app, ["l2", "record", "--allow-network", "--yes", "--fixture", "new.json"]
    )
    assert result.exit_code == 2
    pack = only_pack()
    assert result.stderr.splitlines()[-1] == (
        "aiops: error: --fixture new.json already exists; pass --force to replace it "
        f"(the pack {pack} was written; its transcript.json is the same transcript)"
    )
    assert Path("new.json").read_text() == "another run's fixture"
    assert [p.name for p in Path().iterdir() if p.name.startswith(".")] == []


def test_record_then_replay_gives_the_same_outputs(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    happy_path(loopback)
    record = [
        "l2",
        "record",
        "--allow-network",
        "--yes",
        "--fixture",
        "new.json",
        "--out",
        "r/pack",
    ]
    assert runner.invoke(app, record).exit_code == 0
    replay = runner.invoke(app, ["l2", "replay", "--fixture", "new.json", "--out", "p/pack"])
    assert replay.exit_code == 0, replay.stderr
    recorded, replayed = Path("r/pack"), Path("p/pack")
    for name in ("proposer_output.json", "critic_output.json"):
        a, b = read(recorded, name), read(replayed, name)
        assert a["output_hash"] == b["output_hash"] and a["prompt_hash"] == b["prompt_hash"]
        # Attempts name where the answer came from: the URL, or the replayed fixture.
        assert b["attempts"][0]["endpoint"] == "replay:new.json"
        for doc in (a, b):
            for attempt in doc["attempts"]:
                attempt.pop("endpoint")
        assert a == b
    manifest_a, manifest_b = (
        read(recorded, "run_manifest.json"),
        read(replayed, "run_manifest.json"),
    )
    # The recorded run also says how its requests left; a replay sent nothing.
    assert manifest_a.pop("network")["endpoints"][0]["route"] == "direct"
    assert "network" not in manifest_b
    differing = {k for k in manifest_a if manifest_a[k] != manifest_b[k]}
    assert differing == {"run_type", "network_used", "artifacts"}  # + transcript.json
    index_a, index_b = read(recorded, "evidence_pack.json"), read(replayed, "evidence_pack.json")
    differing = {k for k in index_a if index_a[k] != index_b[k]}
    assert differing == {"mode", "network_used", "artifacts"}
    for name in ("sod_check.json", "capability_scope_check.json"):
        assert read(recorded, name) == read(replayed, name)


def test_shipped_fixture_copy_replays_from_any_directory(runner: CliRunner, tmp_path: Path) -> None:
    elsewhere = tmp_path / "deep" / "dir"
    elsewhere.mkdir(parents=True)
    shutil.copy(SAMPLE_FIXTURE, elsewhere / "copy.json")
    result = runner.invoke(app, ["l2", "replay", "--fixture", str(elsewhere / "copy.json")])
    assert result.exit_code == 0, result.stderr


def test_recorded_fallback_replays_the_same_way(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    rate_limited = Reply(429, error_body("Rate limit reached", code="rate_limit_exceeded"))
    loopback.script(
        RESPONSES_PATH,
        rate_limited,
        rate_limited,
        rate_limited,
        Reply(body=responses_answer(sample.proposer_text(), model="gpt-5.2")),
    )
    loopback.script(CHAT_PATH, Reply(500, error_body("busy")), critic_handler())
    record = ["l2", "record", "--allow-network", "--yes", "--fixture", "fb.json", "--out", "r/p"]
    assert runner.invoke(app, record).exit_code == 0
    fixture = json.loads(Path("fb.json").read_text())
    expected = [
        ("gpt-5.2-pro", "rate_limit"),
        ("gpt-5.2-pro", "rate_limit"),
        ("gpt-5.2-pro", "rate_limit"),
        ("gpt-5.2", None),
    ]
    # Every attempt is a run of the transcript, retries included.
    runs = [(r["model_id"], r["error"] and r["error"]["error_class"]) for r in fixture["runs"]]
    assert runs == [*expected, ("deepseek-r1", "server_error"), ("deepseek-r1", None)]
    result = runner.invoke(app, ["l2", "replay", "--fixture", "fb.json", "--out", "p/p"])
    assert result.exit_code == 0, result.stderr
    for name, attempts in (
        ("proposer_output.json", expected),
        ("critic_output.json", [("deepseek-r1", "server_error"), ("deepseek-r1", None)]),
    ):
        recorded = read(Path("r/p"), name)["attempts"]
        replayed = read(Path("p/p"), name)["attempts"]
        assert [(a["model_id"], a["error_class"]) for a in replayed] == attempts
        assert [(a["model_id"], a["error_class"]) for a in recorded] == attempts
        assert all(a["retry_delay_ms"] == 0 for a in replayed)  # replay does not wait
    assert not Path("logs/ai_model_calls.jsonl").read_text().count("replay:")


def _violating(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    outputs = sample.proposer_outputs()
    edit(outputs)
    return outputs


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda o: o["outputs"].append({"type": "TradeIdea"}), "unknown_output_type"),
        (
            lambda o: o["outputs"][0].update(scenarios=o["outputs"][0]["scenarios"][:1]),
            "min_scenario_count",
        ),
        (
            lambda o: o["outputs"][0].update(scenarios=o["outputs"][0]["scenarios"] * 2),
            "max_scenario_count",
        ),
        (lambda o: o["outputs"].pop(4), "must_include_uncertainty"),
        (lambda o: o["outputs"].pop(5), "must_include_no_trade_triggers"),
        (
            lambda o: o["outputs"][3].update(summary="Sell 20 contracts at 5,950."),
            "no_order_language",
        ),
        (lambda o: o["outputs"][3].update(summary="sk-" + "q1w2e3r4" * 3), "no_secrets_in_output"),
    ],
)
def test_each_scope_violation_blocks_end_to_end(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    edit: Callable[[dict[str, Any]], object],
    rule: str,
) -> None:
    loopback.script(RESPONSES_PATH, proposer_reply(_violating(edit)))
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert rule in result.stderr and "BLOCKED" in result.stdout
    scope = read(only_pack(), "capability_scope_check.json")
    assert {v["rule"] for v in scope["violations"]} == {rule}


def test_a_proposer_answer_with_nan_blocks_and_still_writes_the_pack(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """``NaN`` is not JSON: the answer is a parse violation, and the pack (whose JSON
    never holds NaN) is still written in full."""
    text = sample.proposer_text(sample.proposer_outputs()).replace("0.55", "NaN", 1)
    assert "NaN" in text
    loopback.script(RESPONSES_PATH, proposer_reply(text=text))
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "BLOCKED"
    proposer = read(pack, "proposer_output.json")
    assert proposer["parsed"] is None and proposer["output_text"] == text


def test_a_response_body_that_is_not_unicode_fails_closed(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """A lone surrogate escape in the provider's body cannot be written as evidence: the
    response is malformed, every candidate fails the same way, and a FAILED pack says so."""
    body = json.dumps(responses_answer(sample.proposer_text(sample.proposer_outputs())))
    assert '"text": "{' in body
    bad = body.replace('"text": "{', '"text": "\\ud800{', 1).encode()
    for _ in range(2):
        loopback.script(RESPONSES_PATH, Reply(raw=bad))
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert read(only_pack(), "evidence_pack.json")["status"] == "FAILED"
    assert "malformed_response" in result.stderr or "not a JSON object" in result.stderr


def test_an_answer_with_a_lone_surrogate_escape_blocks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    text = sample.proposer_text(sample.proposer_outputs()).replace('"', '"\\ud800', 1)
    loopback.script(RESPONSES_PATH, proposer_reply(text=text))
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert read(only_pack(), "evidence_pack.json")["status"] == "BLOCKED"
