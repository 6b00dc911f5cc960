"""Provider faults end to end: ``aiops l2 live`` against a scripted loopback server on a
real socket. Each test checks the exit code, the pack's status, the attempts it records
and the audit log's lines — and that the ledger still verifies.

The configuration is the shipped one with millisecond backoff (``fast_config``); a test
that needs a longer wait or a shorter timeout sets it in that copy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FIXED_EPOCH, FakeKeys
from tests.services.packs import only_pack, read
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    error_body,
    failed_response,
    responses_answer,
)
from tests.support.registry_edit import set_keys
from tests.support.scripts import critic_handler, happy_path, proposer_reply
from tests.support.state import spend_ledger

LIVE = ["l2", "live", "--allow-network", "--yes"]
AUDIT_LOG = Path("logs/ai_model_calls.jsonl")
FALLBACK_ANSWER = Reply(body=responses_answer(sample.proposer_text(), model="gpt-5.2"))


def audit_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in AUDIT_LOG.read_text().splitlines()]


def attempts_of(pack: Path, role: str = "proposer") -> list[tuple[str, int | None, str | None]]:
    return [
        (a["model_id"], a["http_status"], a["error_class"])
        for a in read(pack, f"{role}_output.json")["attempts"]
    ]


def verifies(runner: CliRunner, path: Path, *extra: str) -> None:
    result = runner.invoke(app, ["verify-pack", str(path), *extra])
    assert result.exit_code == 0, result.stdout + result.stderr


def models_asked(server: LoopbackServer) -> list[str]:
    return [r.body["model"] for r in server.requests]


# --- retries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "minimum_s"),
    [({"retry-after": "1"}, 1.0), ({"retry-after-ms": "300", "retry-after": "5"}, 0.3)],
)
def test_429_waits_for_retry_after_then_retries_the_same_model(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    headers: dict[str, str],
    minimum_s: float,
) -> None:
    set_keys(fast_config, "fallback_policy", backoff_max_seconds=2.0)
    limited = Reply(429, error_body("Rate limit reached", code="rate_limit_exceeded"), headers)
    loopback.script(RESPONSES_PATH, limited, proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert models_asked(loopback) == ["gpt-5.2-pro", "gpt-5.2-pro", "deepseek-r1"]
    gap = loopback.requests[1].arrived - loopback.requests[0].arrived
    assert minimum_s <= gap < minimum_s + 1.0
    pack = only_pack()
    proposer = read(pack, "proposer_output.json")
    assert attempts_of(pack) == [
        ("gpt-5.2-pro", 429, "rate_limit"),
        ("gpt-5.2-pro", 200, None),
    ]
    assert proposer["attempts"][0]["retry_delay_ms"] == round(minimum_s * 1000)
    lines = audit_lines()
    assert [(x["role"], x["http_status"], x["success"]) for x in lines] == [
        ("proposer", 429, False),
        ("proposer", 200, True),
        ("critic", 200, True),
    ]
    assert lines[0]["retry_delay_ms"] == round(minimum_s * 1000)
    assert lines[0]["prompt_hash"] == lines[1]["prompt_hash"] == proposer["prompt_hash"]
    assert "Attempts (3)" in result.stdout
    waited = proposer["attempts"][0]["retry_delay_ms"]
    assert re.search(rf"gpt-5.2-pro .* 429 +rate_limit +\d+ ms +{waited} ms", result.stdout)


def test_insufficient_quota_is_not_retried_and_falls_back_at_once(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    quota = Reply(429, error_body("You exceeded your current quota", code="insufficient_quota"))
    loopback.script(RESPONSES_PATH, quota, FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert models_asked(loopback) == ["gpt-5.2-pro", "gpt-5.2", "deepseek-r1"]
    pack = only_pack()
    assert attempts_of(pack) == [
        ("gpt-5.2-pro", 429, "insufficient_quota"),
        ("gpt-5.2", 200, None),
    ]
    alert = "fallback: gpt-5.2 answered after gpt-5.2-pro (insufficient_quota) failed"
    assert f"warning: {alert}" in result.stderr
    assert alert in (pack / "operator_output.md").read_text()
    assert read(pack, "sod_check.json")["proposer_model_id"] == "gpt-5.2"
    assert [x["model_id"] for x in audit_lines()] == ["gpt-5.2-pro", "gpt-5.2", "deepseek-r1"]
    verifies(runner, Path("evidence_packs"))


def test_500_then_200_retries_without_falling_back(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(500, error_body("Internal error")), proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    assert attempts_of(pack) == [("gpt-5.2-pro", 500, "server_error"), ("gpt-5.2-pro", 200, None)]
    assert read(pack, "proposer_output.json")["attempts"][0]["retry_delay_ms"] == 10
    assert "warning: fallback" not in result.stderr
    assert [x["success"] for x in audit_lines()] == [False, True, True]


def test_503_until_retries_run_out_then_the_fallback_answers(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    busy = Reply(503, error_body("The server is overloaded"))
    loopback.script(RESPONSES_PATH, busy, busy, busy, FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert models_asked(loopback) == ["gpt-5.2-pro"] * 3 + ["gpt-5.2", "deepseek-r1"]
    pack = only_pack()
    assert attempts_of(pack) == [("gpt-5.2-pro", 503, "server_error")] * 3 + [
        ("gpt-5.2", 200, None)
    ]
    delays = [a["retry_delay_ms"] for a in read(pack, "proposer_output.json")["attempts"]]
    assert delays == [10, 20, 0, 0]  # backoff doubles; the last try of a model waits for none
    assert len(audit_lines()) == 5
    assert "fallback: gpt-5.2 answered" in result.stderr
    verifies(runner, Path("evidence_packs"))


def test_read_timeout_is_retried(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    # Room for a loaded machine: the answer that follows must arrive within the limit.
    set_keys(fast_config, "fallback_policy", request_timeout_seconds=1.0)
    loopback.script(RESPONSES_PATH, Reply(body={}, delay_s=3.0), proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    assert attempts_of(pack) == [("gpt-5.2-pro", None, "timeout"), ("gpt-5.2-pro", 200, None)]
    first = read(pack, "proposer_output.json")["attempts"][0]
    assert 950 <= first["latency_ms"] < 3000
    assert audit_lines()[0]["error_class"] == "timeout"


def test_connection_reset_mid_response_is_retried(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    reset = Reply(body=responses_answer(sample.proposer_text()), reset=True)
    loopback.script(RESPONSES_PATH, reset, proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert attempts_of(only_pack()) == [
        ("gpt-5.2-pro", None, "connection"),
        ("gpt-5.2-pro", 200, None),
    ]
    assert audit_lines()[0]["error_class"] == "connection"


def test_malformed_json_body_is_not_retried_and_falls_back(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(raw=b'{"id": "resp_1", "output": ['), FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert attempts_of(only_pack()) == [
        ("gpt-5.2-pro", 200, "malformed_response"),
        ("gpt-5.2", 200, None),
    ]


def test_status_failed_is_retried(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(body=failed_response()), proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert attempts_of(only_pack()) == [
        ("gpt-5.2-pro", 200, "response_failed"),
        ("gpt-5.2-pro", 200, None),
    ]


def test_status_incomplete_fails_closed_without_retry_or_fallback(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    cut = responses_answer(
        '{"outputs": [', status="incomplete", incomplete_reason="max_output_tokens"
    )
    loopback.script(RESPONSES_PATH, Reply(body=cut))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert attempts_of(pack) == [("gpt-5.2-pro", 200, None)]
    assert models_asked(loopback) == ["gpt-5.2-pro"]
    assert [(x["model_id"], x["success"]) for x in audit_lines()] == [("gpt-5.2-pro", True)]
    verifies(runner, pack)


def test_refusal_fails_closed_without_retry_or_fallback(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(body=responses_answer(None, refusal="I can't help.")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "refused" in result.stderr
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert read(pack, "proposer_output.json")["outcome"] == "refused"
    assert models_asked(loopback) == ["gpt-5.2-pro"]
    assert len(audit_lines()) == 1
    verifies(runner, pack)


def test_every_model_down_is_a_failed_pack_with_every_attempt(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(502, error_body("Bad gateway")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "all 2 model(s) failed: gpt-5.2-pro (server_error), gpt-5.2 (server_error)" in (
        result.stderr
    )
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    expected = [("gpt-5.2-pro", 502, "server_error")] * 3 + [("gpt-5.2", 502, "server_error")] * 3
    assert attempts_of(pack) == expected
    assert not (pack / "critic_output.json").exists()
    lines = audit_lines()
    assert [(x["model_id"], x["http_status"], x["success"]) for x in lines] == [
        (model, status, False) for model, status, _ in expected
    ]
    assert all(x["cost_usd"] == 0 for x in lines)
    assert read(pack, "proposer_output.json")["cost_usd"] == 0
    assert "Attempts (6)" in result.stdout
    verifies(runner, Path("evidence_packs"))


def test_run_deadline_stops_retries_and_fallbacks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(
        fast_config,
        "fallback_policy",
        run_deadline_seconds=1.0,
        backoff_initial_seconds=0.4,
        backoff_max_seconds=1.0,
    )
    loopback.script(RESPONSES_PATH, Reply(500, error_body("down")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    # Attempt 1 fails, 0.4 s wait, attempt 2 fails; a 0.8 s wait would pass the deadline.
    assert "run deadline of 1 s reached after 2 attempt(s)" in result.stderr
    assert models_asked(loopback) == ["gpt-5.2-pro", "gpt-5.2-pro"]  # no fallback after it
    assert read(only_pack(), "evidence_pack.json")["status"] == "FAILED"


def test_a_full_rate_limit_window_shared_with_other_runs_is_respected(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, 'models."gpt-5.2-pro"', rate_limit_rpm=1)
    set_keys(fast_config, "fallback_policy", run_deadline_seconds=2.0)
    window = Path("logs/ratelimit/gpt-5.2-pro.json")  # another run took the minute's slot
    window.parent.mkdir(parents=True)
    window.write_text(json.dumps({"model_id": "gpt-5.2-pro", "window": [time.time()]}))
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "rate limit of 1 requests/minute would need a" in result.stderr
    assert loopback.requests == []  # it waited for no slot it could not get in time
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert read(pack, "proposer_output.json")["attempts"] == []
    verifies(runner, pack)


# --- budget ------------------------------------------------------------------------------


def _spent_today(amount: float) -> None:
    spend_ledger().parent.mkdir(parents=True, exist_ok=True)
    line = {
        "kind": "spend",
        "id": "earlier",
        "timestamp_utc": "2026-01-10T08:00:00+00:00",
        "run_id": "L2-earlier",
        "layer_id": "L2",
        "model_id": "gpt-5.2-pro",
        "input_tokens": 1,
        "output_tokens": 1,
        "reasoning_tokens": 0,
        "cost_usd": amount,
    }
    spend_ledger().write_text(json.dumps(line) + "\n")


def test_budget_exhausted_refuses_before_anything_is_sent(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _spent_today(49.0)
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: budget: this run could cost up to $")
    assert "daily spend is $49.00 of $50.00 ($1.00 left); refused before sending" in result.stderr
    assert loopback.requests == []
    assert not Path("evidence_packs").exists()
    assert not AUDIT_LOG.exists()
    assert len(spend_ledger().read_text().splitlines()) == 1  # nothing reserved


def test_budget_alert_and_what_is_left_are_shown_and_spend_is_recorded(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _spent_today(38.0)
    happy_path(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    banner = result.stderr.split("╰")[0]
    assert "budget left today $12.00 of $50.00, this month $962.00 of $1000.00" in banner
    assert "WARNING budget: daily spend could reach $" in banner
    assert "warning: budget: daily spend could reach $" in result.stderr
    pack = only_pack()
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    # 2817 in at $0.021/1k + 1954 out at $0.168/1k; the critic's model is priced at $0.
    assert proposer["cost_usd"] == round(2817 * 0.021 / 1000 + 1954 * 0.168 / 1000, 6)
    assert critic["cost_usd"] == 0
    spend = [json.loads(x) for x in spend_ledger().read_text().splitlines()[1:]]
    assert [x["kind"] for x in spend] == ["reserve", "spend", "reserve", "spend"]
    assert spend[1]["cost_usd"] == proposer["cost_usd"]
    assert spend[0]["id"] == spend[1]["id"] and spend[0]["estimate_usd"] > proposer["cost_usd"]
    assert audit_lines()[0]["cost_usd"] == proposer["cost_usd"]
    assert f"${proposer['cost_usd']:.4f}" in result.stdout


def test_budget_refusal_mid_run_writes_a_failed_pack_of_what_was_sent(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    def spent_elsewhere_meanwhile(captured: Captured) -> Reply:
        _spent_today(49.99)  # another run spent the rest of the day's budget
        return Reply(400, error_body("bad request"))

    loopback.script(RESPONSES_PATH, spent_elsewhere_meanwhile, FALLBACK_ANSWER)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "proposer not called: budget: this call could cost up to $" in result.stderr
    assert models_asked(loopback) == ["gpt-5.2-pro"]  # the fallback was never sent
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert attempts_of(pack) == [("gpt-5.2-pro", 400, "bad_request")]
    assert len(audit_lines()) == 1
    verifies(runner, pack)


# --- fallback chain and lifecycle ----------------------------------------------------------


def test_fallback_equal_to_the_critic_is_skipped(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, "layer_mapping.L2", fallbacks=["deepseek-r1", "gpt-5.2"])
    loopback.script(RESPONSES_PATH, Reply(404, error_body("No such model")), FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "warning: skipped deepseek-r1: SoD FAIL: proposer deepseek-r1 == critic" in (
        result.stderr
    )
    assert models_asked(loopback) == ["gpt-5.2-pro", "gpt-5.2", "deepseek-r1"]
    assert [r.path for r in loopback.requests].count(CHAT_PATH) == 1  # only as the critic
    pack = only_pack()
    sod = read(pack, "sod_check.json")
    assert (sod["proposer_model_id"], sod["result"]) == ("gpt-5.2", "PASS")
    verifies(runner, pack)


def _layer_policy(config: Path, **values: bool) -> None:
    registry = config / "model_registry.toml"
    lines = "".join(f"{key} = {str(value).lower()}\n" for key, value in values.items())
    registry.write_text(registry.read_text() + f"\n[fallback_policy.layers.L2]\n{lines}")


@pytest.mark.parametrize("alert", [True, False])
def test_a_skipped_model_and_a_fallback_are_each_told_once(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    alert: bool,
) -> None:
    set_keys(fast_config, "layer_mapping.L2", fallbacks=["deepseek-r1", "gpt-5.2"])
    _layer_policy(fast_config, alert_on_fallback=alert)
    busy = Reply(503, error_body("The server is overloaded"))
    loopback.script(RESPONSES_PATH, busy, busy, busy, FALLBACK_ANSWER)  # retries run out
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    after_banner = result.stderr.split("╯")[-1]
    report = (only_pack() / "operator_output.md").read_text()
    section = report.split("## Findings")[1].split("## Actions")[0]
    findings = [line for line in section.splitlines() if line.startswith("- ")]
    skip = "skipped deepseek-r1: SoD FAIL: proposer deepseek-r1 == critic deepseek-r1;"
    fell_back = "fallback: gpt-5.2 answered after gpt-5.2-pro (server_error) failed"
    used = "fallback used: gpt-5.2 answered after gpt-5.2-pro (server_error) failed"
    assert after_banner.count("warning: skipped") == 1 and f"warning: {skip}" in after_banner
    assert len(findings) == 2 and findings[0].startswith(f"- {skip}")
    if alert:  # one alert: the skipped model is not taken for a second one
        assert after_banner.count("warning: fallback") == 1
        assert f"warning: {fell_back}\n" in after_banner
        assert findings[1] == f"- {fell_back}"
    else:
        assert "fallback" not in after_banner
        assert findings[1] == f"- {used}"


def test_without_alert_on_fallback_the_fallback_is_a_finding_not_a_warning(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    _layer_policy(fast_config, alert_on_fallback=False)
    loopback.script(RESPONSES_PATH, Reply(401, error_body("no")), FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "fallback" not in result.stderr.split("╯")[-1]  # after the banner: no warning
    report = (only_pack() / "operator_output.md").read_text()
    assert "fallback used: gpt-5.2 answered after gpt-5.2-pro (authentication) failed" in report


def test_fail_closed_false_is_reported_as_having_no_effect(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    _layer_policy(fast_config, fail_closed=False)
    loopback.script(RESPONSES_PATH, Reply(403, error_body("forbidden")))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4
    assert "fail_closed = false for L2 has no effect on a model run" in result.stderr
    assert read(only_pack(), "evidence_pack.json")["status"] == "FAILED"


def test_retired_fallback_is_skipped_naming_its_replacement(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, "layer_mapping.L2", fallbacks=["deepseek-reasoner", "gpt-5.2"])
    loopback.script(RESPONSES_PATH, Reply(400, error_body("bad")), FALLBACK_ANSWER)
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "skipped deepseek-reasoner: fallback model 'deepseek-reasoner' was retired" in (
        result.stderr
    )
    assert "use 'deepseek-v4-pro' instead" in result.stderr
    assert "deepseek-reasoner" not in models_asked(loopback)


def test_retired_primary_is_refused_before_any_call(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, 'models."gpt-5.2-pro"', status="retired", retired_on="2026-01-01")
    set_keys(fast_config, 'models."gpt-5.2-pro"', replacement="gpt-5.2")
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "proposer model 'gpt-5.2-pro' was retired" in result.stderr
    assert "use 'gpt-5.2' instead" in result.stderr
    assert loopback.requests == []


# --- replay and signatures -------------------------------------------------------------------


def test_replay_writes_no_audit_or_spend_lines(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.stderr
    assert not Path("logs").exists()
    assert "(recorded usage; replayed, nothing spent)" in result.stdout


def test_signed_replay_pack_verifies_with_the_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["keys", "generate", "--out-dir", "keys"]).exit_code == 0
    private, public = Path("keys/aiops_signing_key.pem"), Path("keys/aiops_signing_key.pub.pem")
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(private))
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    assert (pack / "evidence_pack.dsse.json").exists()
    verifies(runner, pack, "--key", str(public))
    verifies(runner, Path("evidence_packs"), "--key", str(public))


def test_signed_live_pack_verifies_with_the_key(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runner.invoke(app, ["keys", "generate", "--out-dir", "keys"]).exit_code == 0
    private, public = Path("keys/aiops_signing_key.pem"), Path("keys/aiops_signing_key.pub.pem")
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(private))
    loopback.script(RESPONSES_PATH, Reply(503, error_body("busy")), proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    assert runner.invoke(app, LIVE).exit_code == 0
    verifies(runner, only_pack(), "--key", str(public))


# --- real processes: SIGKILL and concurrency --------------------------------------------------


def _subprocess_env(loopback: LoopbackServer, keys: FakeKeys, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIOPS_", "OPENAI_"))}
    # The test's own rate-limit windows, not the machine-wide per-user ones: other runs
    # on the machine (another test session, an operator) must not share its budget.
    env["AIOPS_RATELIMIT_DIR"] = os.environ["AIOPS_RATELIMIT_DIR"]
    env.update(
        SOURCE_DATE_EPOCH=FIXED_EPOCH,
        AIOPS_CONFIG_DIR=str(config),
        OPENAI_BASE_URL=loopback.base_url,
        DEEPSEEK_BASE_URL=loopback.base_url,
        OPENAI_API_KEY=keys.openai,
        DEEPSEEK_API_KEY=keys.deepseek,
    )
    return env


def _aiops(*argv: str) -> list[str]:
    return [sys.executable, "-m", "aiops", *argv]


def test_sigkill_during_a_call_leaves_no_partial_pack(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    tmp_path: Path,
) -> None:
    happy_path(loopback)
    assert runner.invoke(app, LIVE).exit_code == 0  # one good pack before the crash
    loopback.requests.clear()
    release = threading.Event()

    def hang(captured: Captured) -> Reply:
        release.wait(10)
        return proposer_reply()

    loopback.script(RESPONSES_PATH, hang)
    child = subprocess.Popen(
        _aiops(*LIVE),
        cwd=tmp_path,
        env=_subprocess_env(loopback, network_env, fast_config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + 20
        while not loopback.requests and time.monotonic() < give_up:
            time.sleep(0.01)
        assert loopback.requests, "the run never called the model"
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
    ledger = Path("evidence_packs")
    assert len(list(ledger.iterdir())) == 1  # no partial pack, no staging left
    verifies(runner, ledger)
    # The killed attempt's reservation stays in the spend ledger (it counts until it
    # lapses); it never finished, so the audit log has no line for it.
    kinds = [json.loads(x)["kind"] for x in spend_ledger().read_text().splitlines()]
    assert kinds == ["reserve", "spend", "reserve", "spend", "reserve"]
    assert len(audit_lines()) == 2


def test_eight_concurrent_live_runs_share_one_ledger(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    tmp_path: Path,
) -> None:
    happy_path(loopback)
    scope = fast_config / "capability_scopes" / "L2_market_outlook.toml"  # 8 runs x 5 searches
    scope.write_text(
        scope.read_text().replace("rate_limit_per_hour = 20", "rate_limit_per_hour = 40")
    )
    env = _subprocess_env(loopback, network_env, fast_config)
    children = [
        subprocess.Popen(
            _aiops(*LIVE, "--notes", f"run {n}"),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    ledger = Path("evidence_packs")
    packs = sorted(p for p in ledger.iterdir() if not p.name.startswith("."))
    assert len(packs) == 8
    sequences = sorted(read(p, "evidence_pack.json")["sequence"] for p in packs)
    assert sequences == list(range(1, 9))
    verifies(runner, ledger)
    raw = AUDIT_LOG.read_bytes()
    assert raw.endswith(b"\n")
    lines = [json.loads(line) for line in raw.splitlines()]  # every line whole JSON
    assert len(lines) == 16 and all(x["success"] for x in lines)
    assert sorted(x["role"] for x in lines) == ["critic"] * 8 + ["proposer"] * 8
    spend = [json.loads(x) for x in spend_ledger().read_text().splitlines()]
    assert sorted(x["kind"] for x in spend) == ["reserve"] * 16 + ["spend"] * 16
