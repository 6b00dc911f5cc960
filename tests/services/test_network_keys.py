"""Before anything is sent: every missing key in one line; and a gateway that does not
know the primary model sends the run to the next one, saying why."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.providers.test_gateway_errors import UNKNOWN_MODEL
from tests.services.packs import only_pack, read
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply
from tests.support.scripts import critic_handler, proposer_reply

LIVE = ["l2", "live", "--allow-network", "--yes"]


def test_every_missing_key_is_named_in_one_line(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("aiops: error: OPENAI_API_KEY and DEEPSEEK_API_KEY are not set")
    assert "OPENAI_API_KEY for gpt-5.2-pro, gpt-5.2" in line
    assert "DEEPSEEK_API_KEY for deepseek-r1" in line and "nothing was sent" in line
    assert network_env.openai not in line and network_env.deepseek not in line
    assert loopback.requests == []


def test_one_missing_key_still_reads_as_before(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "DEEPSEEK_API_KEY is not set (DEEPSEEK_API_KEY for deepseek-r1)" in result.stderr
    assert "OPENAI_API_KEY" not in result.stderr
    assert loopback.requests == []


def test_a_gateway_400_for_an_unknown_model_falls_back_with_the_reason(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    loopback.script(RESPONSES_PATH, Reply(400, UNKNOWN_MODEL), proposer_reply())
    loopback.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    models = [r.body["model"] for r in loopback.requests if r.path == RESPONSES_PATH]
    assert models == ["gpt-5.2-pro", "gpt-5.2"]  # not retried: straight to the fallback
    assert "gpt-5.2-pro (model_not_found)" in result.stderr
    proposer = read(only_pack(), "proposer_output.json")
    first = proposer["attempts"][0]
    assert (first["http_status"], first["error_class"]) == (400, "model_not_found")
    assert "does not serve this model" in first["error_message"]
    assert proposer["model_id"] == "gpt-5.2"
