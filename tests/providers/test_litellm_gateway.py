"""A real LiteLLM proxy on loopback in front of aiops: the gateway many desks put in front
of OpenAI and DeepSeek.

The proxy answers two models itself (``mock_response``: no upstream at all) for live,
record and replay runs whose packs must verify; every other model it forwards to the
project's loopback upstream, which answers the way OpenAI does when it fails (quota,
rate limit with retry-after) so the errors arrive rewrapped as LiteLLM sends them. The
proxy starts offline (``LITELLM_LOCAL_MODEL_COST_MAP=True``) with a master key made at
run time and its own retries off, so every request it forwards is one aiops sent.

Installed with the ``gateway`` extra (``pip install -e '.[test,gateway]'``); where it is
not installed these tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aiops.canonical import prefixed_sha256
from aiops.cli import app
from aiops.resources import default_config_dir
from tests.services.packs import only_pack, read
from tests.support import sample
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply
from tests.support.registry_edit import FAST_POLICY, set_keys
from tests.support.scripts import critic_handler, proposer_reply

LITELLM = Path(sys.executable).parent / "litellm"
MISSING = "LiteLLM's proxy is not installed here (pip install -e '.[gateway]')"
if not LITELLM.exists() and os.environ.get("AIOPS_GATEWAY_TESTS") == "required":
    raise RuntimeError(f"{MISSING}, and AIOPS_GATEWAY_TESTS=required")  # CI's gateway job
pytestmark = pytest.mark.skipif(
    not LITELLM.exists(), reason=f"{MISSING}; the real-gateway tests need it"
)
START_TIMEOUT_S = 180.0  # its imports alone take 10-20 s on a loaded machine
LIVE = ["l2", "live", "--allow-network", "--yes"]
PROPOSER_TEXT = sample.proposer_text()
CRITIC_THINKING = "The scenarios are probabilistic and carry no order language."
CRITIC_TEXT = f"<think>\n{CRITIC_THINKING}\n</think>\n\n" + json.dumps(
    sample.critic_verdict(prefixed_sha256(PROPOSER_TEXT.encode("utf-8")))
)
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


@dataclass(frozen=True)
class Gateway:
    url: str  # the proxy's OpenAI-compatible base URL
    key: str  # its master key, made at run time
    upstream: LoopbackServer
    version: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(upstream: LoopbackServer) -> dict[str, object]:
    """JSON is YAML: the proxy reads this as its config file."""
    forwarded = [
        {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{name}",
                "api_base": upstream.base_url,
                "api_key": "upstream-test-key-" + secrets.token_hex(4),
            },
        }
        for name in ("gpt-5.2-pro", "gpt-5.2", "deepseek-r1")
    ]
    mocked = [
        {
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}", "mock_response": text},
        }
        for name, text in (("mock-outlook", PROPOSER_TEXT), ("mock-critic", CRITIC_TEXT))
    ]
    return {
        "model_list": mocked + forwarded,
        "litellm_settings": {"num_retries": 0, "request_timeout": 30},
    }


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"LiteLLM's proxy exited ({process.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"LiteLLM's proxy did not start in {START_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    from importlib.metadata import version

    home = tmp_path_factory.mktemp("litellm")
    config, log = home / "config.yaml", home / "proxy.log"
    key = "sk-" + secrets.token_hex(16)  # the proxy refuses to start without a master key
    env = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_MASTER_KEY=key, NO_COLOR="1")
    port = _free_port()
    with LoopbackServer(validate=False) as upstream, log.open("wb") as out:
        config.write_text(json.dumps(_config(upstream)))
        process = subprocess.Popen(
            [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
            start_new_session=True,  # its own process group: stopped as one below
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(process, url, log)
            yield Gateway(url + "/v1", key, upstream, version("litellm"))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


@pytest.fixture
def through(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Gateway, Path]]:
    """Both providers pointed at the gateway with its key; a configuration copy the test
    may edit; the upstream's script and request log emptied."""
    target = tmp_path / "gwcfg"
    import shutil

    shutil.copytree(default_config_dir(), target)
    set_keys(target, "fallback_policy", **{**FAST_POLICY, "backoff_max_seconds": 5.0})
    monkeypatch.setenv("AIOPS_CONFIG_DIR", str(target))
    for provider in ("OPENAI", "DEEPSEEK"):
        monkeypatch.setenv(f"{provider}_BASE_URL", gateway.url)
        monkeypatch.setenv(f"{provider}_API_KEY", gateway.key)
    gateway.upstream.reset()
    yield gateway, target
    gateway.upstream.reset()


def _mocked(config: Path) -> None:
    set_keys(config, 'models."gpt-5.2-pro"', provider_model="mock-outlook")
    set_keys(config, "models.deepseek-r1", provider_model="mock-critic")


def _verified(runner: CliRunner, pack: Path) -> None:
    result = runner.invoke(app, ["verify-pack", str(pack)])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_live_record_and_replay_through_the_gateway_verify(
    runner: CliRunner, through: tuple[Gateway, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, config = through
    _mocked(config)
    live = runner.invoke(app, [*LIVE, "--out", "packs/live"])
    assert live.exit_code == 0, live.stderr
    assert "COMPLETED" in live.stdout and "decision APPROVE" in live.stdout
    pack = Path("packs/live")
    _verified(runner, pack)
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    assert proposer["output_text"] == PROPOSER_TEXT
    assert proposer["output_hash"] == prefixed_sha256(PROPOSER_TEXT.encode("utf-8"))
    assert critic["evidence_ids"] == [proposer["output_hash"]]
    # However the gateway hands R1's think block on (inside content, or split out as
    # reasoning_content), the verdict is read and the reasoning is kept.
    assert CRITIC_THINKING in (critic["reasoning_text"] or "")
    print("gateway", gateway.version, "critic normalisations", critic["normalisations"])
    assert critic["served"]["model"] == "mock-critic"
    assert gateway.upstream.requests == []  # mock_response: nothing went upstream

    recorded = runner.invoke(
        app,
        ["l2", "record", "--allow-network", "--yes", "--fixture", "gw.json", "--out", "packs/rec"],
    )
    assert recorded.exit_code == 0, recorded.stderr
    _verified(runner, Path("packs/rec"))
    transcript = json.loads(Path("gw.json").read_text())
    assert gateway.key not in Path("gw.json").read_text()
    assert [run["role"] for run in transcript["runs"]] == ["proposer", "critic"]

    for name in ("OPENAI_BASE_URL", "DEEPSEEK_BASE_URL"):  # replay must not need them
        monkeypatch.setenv(name, "http://127.0.0.1:9/v1")
    replayed = runner.invoke(app, ["l2", "replay", "--fixture", "gw.json", "--out", "packs/rep"])
    assert replayed.exit_code == 0, replayed.stderr
    _verified(runner, Path("packs/rep"))
    for name in ("proposer_output.json", "critic_output.json"):
        rec, rep = read(Path("packs/rec"), name), read(Path("packs/rep"), name)
        assert (rep["output_hash"], rep["prompt_hash"]) == (rec["output_hash"], rec["prompt_hash"])
        assert rep["normalisations"] == rec["normalisations"]


def test_quota_exhaustion_behind_the_gateway_is_not_retried(
    runner: CliRunner, through: tuple[Gateway, Path]
) -> None:
    gateway, _ = through
    gateway.upstream.script(RESPONSES_PATH, Reply(429, QUOTA), proposer_reply())
    gateway.upstream.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    asked = [r.body["model"] for r in gateway.upstream.requests if r.path == RESPONSES_PATH]
    assert asked == ["gpt-5.2-pro", "gpt-5.2"]  # once, then straight to the fallback
    first = read(only_pack(), "proposer_output.json")["attempts"][0]
    assert (first["http_status"], first["error_class"]) == (429, "insufficient_quota")
    assert "gpt-5.2-pro (insufficient_quota)" in result.stderr


def test_the_upstreams_retry_after_is_honoured_behind_the_gateway(
    runner: CliRunner, through: tuple[Gateway, Path]
) -> None:
    gateway, _ = through
    limited = Reply(429, RATE_LIMITED, headers={"retry-after-ms": "1200"})
    gateway.upstream.script(RESPONSES_PATH, limited, proposer_reply())
    gateway.upstream.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    tries = [r for r in gateway.upstream.requests if r.path == RESPONSES_PATH]
    assert [r.body["model"] for r in tries] == ["gpt-5.2-pro", "gpt-5.2-pro"]
    assert tries[1].arrived - tries[0].arrived >= 1.2  # FAST_POLICY alone waits 0.05 s
    first = read(only_pack(), "proposer_output.json")["attempts"][0]
    assert first["error_class"] == "rate_limit" and first["retry_delay_ms"] >= 1200


def test_a_model_the_gateway_does_not_know_falls_back_with_the_reason(
    runner: CliRunner, through: tuple[Gateway, Path]
) -> None:
    gateway, config = through
    set_keys(config, 'models."gpt-5.2-pro"', provider_model="not-on-this-gateway")
    gateway.upstream.script(RESPONSES_PATH, proposer_reply())
    gateway.upstream.script(CHAT_PATH, critic_handler())
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert "gpt-5.2-pro (model_not_found)" in result.stderr
    first = read(only_pack(), "proposer_output.json")["attempts"][0]
    assert (first["http_status"], first["error_class"]) == (400, "model_not_found")
    assert "Invalid model name" in first["error_message"]


def test_a_key_the_gateway_does_not_know_keeps_the_hint(
    runner: CliRunner, through: tuple[Gateway, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, _ = through
    wrong = "test-key-" + secrets.token_hex(8)
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    assert "check OPENAI_API_KEY" in result.stderr
    assert wrong not in result.stderr and gateway.key not in result.stderr
    attempts = read(only_pack(), "proposer_output.json")["attempts"]
    assert [(a["http_status"], a["error_class"]) for a in attempts] == [
        (400, "authentication"),
        (400, "authentication"),
    ]
    assert gateway.upstream.requests == []


def test_background_and_streamed_calls_through_the_gateway(
    runner: CliRunner, through: tuple[Gateway, Path]
) -> None:
    """gpt-5.2-pro in background mode (queued, polled through the gateway's own
    ``GET /responses/{id}``) and deepseek-r1 streamed (chunks re-streamed by the
    gateway), both forwarded to the loopback upstream."""
    from tests.support.loopback import background_reply, chat_stream_chunks, sse

    gateway, config = through
    set_keys(config, "fallback_policy", poll_interval_seconds=0.1)
    set_keys(config, "models.deepseek-r1", call_mode="stream")
    final = proposer_reply().body
    gateway.upstream.script(RESPONSES_PATH, Reply(body=background_reply(final)))
    waiting = Reply(body=background_reply(final, "in_progress"))
    gateway.upstream.script(f"{RESPONSES_PATH}/{final['id']}", waiting, waiting, Reply(body=final))

    def streamed(captured: Any) -> Reply:
        answer = critic_handler()(captured).body
        chunks = [sse(c) for c in chat_stream_chunks(answer)] + [sse("[DONE]")]
        return Reply(events=[(0.01, c) for c in chunks])

    gateway.upstream.script(CHAT_PATH, streamed)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    seen = [(r.method, r.path) for r in gateway.upstream.requests]
    assert seen[0] == ("POST", RESPONSES_PATH)
    assert seen.count(("GET", f"{RESPONSES_PATH}/{final['id']}")) == 3
    assert gateway.upstream.requests[0].body["background"] is True
    assert gateway.upstream.requests[-1].body["stream"] is True
    pack = only_pack()
    assert read(pack, "proposer_output.json")["output_text"] == sample.proposer_text()
    _verified(runner, pack)
