"""Long calls end to end: a background proposer call interrupted mid-way is cancelled,
and the progress line shows on a terminal's stderr and nowhere else."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.services.packs import read
from tests.support.idle_relay import IdleDroppingRelay
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    background_reply,
    chat_stream_chunks,
    sse,
)
from tests.support.registry_edit import set_keys
from tests.support.scripts import critic_handler, happy_path, proposer_reply
from tests.test_cli_environment import _child, _wait_for

LIVE = ["l2", "live", "--allow-network", "--yes"]


def script_background(loopback: LoopbackServer, pending: int) -> dict[str, Any]:
    """gpt-5.2-pro (background by default): queued, ``pending`` polls in progress, done."""
    final: dict[str, Any] = proposer_reply().body
    loopback.script(RESPONSES_PATH, Reply(body=background_reply(final)))
    waiting = Reply(body=background_reply(final, "in_progress"))
    loopback.script(f"{RESPONSES_PATH}/{final['id']}", *[waiting] * pending, Reply(body=final))
    loopback.script(f"{RESPONSES_PATH}/{final['id']}/cancel", Reply(body=final))
    loopback.script(CHAT_PATH, critic_handler("APPROVE"))
    return final


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_background_call_is_cancelled(
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    tmp_path: Path,
    sent: signal.Signals,
    code: int,
) -> None:
    set_keys(fast_config, "fallback_policy", poll_interval_seconds=0.05)
    final = script_background(loopback, pending=100000)
    child = _child(LIVE, tmp_path, dict(os.environ))
    polled = f"{RESPONSES_PATH}/{final['id']}"
    try:
        _wait_for(lambda: any(r.path == polled for r in loopback.requests), child)
        child.send_signal(sent)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == code, err.decode()
    cancels = [r for r in loopback.requests if r.path == f"{polled}/cancel"]
    assert [c.method for c in cancels] == ["POST"]
    assert b"Traceback" not in err
    assert not Path("evidence_packs").exists() or not list(Path("evidence_packs").iterdir())


def _run(tmp_path: Path, terminal: bool) -> tuple[int, bytes, bytes]:
    """``aiops l2 live``; stderr on a pseudo-terminal when ``terminal``, else a pipe."""
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-m", "aiops", *LIVE], cwd=tmp_path, capture_output=True, timeout=60
        )
        return done.returncode, done.stdout, done.stderr
    main, side = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "aiops", *LIVE],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=side,
        stdin=subprocess.DEVNULL,
    )
    os.close(side)
    seen = b""
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    out, _ = child.communicate(timeout=30)
    os.close(main)
    return child.returncode, out, seen


def test_progress_shows_on_a_terminal_and_only_results_elsewhere(
    loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path, tmp_path: Path
) -> None:
    set_keys(fast_config, "fallback_policy", poll_interval_seconds=0.3)
    script_background(loopback, pending=4)
    code, out, err = _run(tmp_path, terminal=True)
    assert code == 0, err.decode(errors="replace")
    assert b"\x1b[K" in err and b"proposer gpt-5.2-pro attempt 1" in err
    assert b"in progress" in err  # the provider's status, while it polls
    assert b"proposer gpt-5.2-pro attempt 1: ok, HTTP 200" in err
    assert b"attempt 1" not in out and b"\x1b[K" not in out

    loopback.reset()
    script_background(loopback, pending=4)
    code, out, err = _run(tmp_path, terminal=False)
    assert code == 0, err.decode()
    assert b"\x1b" not in err and b"in progress" not in err
    results = [line for line in err.splitlines() if b" attempt " in line]
    assert results[0].startswith(b"proposer gpt-5.2-pro attempt 1: ok, HTTP 200, ")
    assert any(line.startswith(b"critic deepseek-r1 attempt 1: ok") for line in results)
    assert b"attempt 1" not in out
    # Whatever was shown, the evidence is the same.
    shown, unshown = sorted(p for p in (tmp_path / "evidence_packs").iterdir() if p.is_dir())
    assert _outputs(shown) == _outputs(unshown)


def streamed(handler: Any) -> Any:
    """``handler``'s Chat Completions answer, sent as a stream with usage and [DONE]."""

    def handle(captured: Captured) -> Reply:
        answer = handler(captured).body
        chunks = [sse(c) for c in chat_stream_chunks(answer)] + [sse("[DONE]")]
        return Reply(events=[(0.01, c) for c in chunks])

    return handle


def _outputs(pack: Path) -> dict[str, Any]:
    """The model outputs, less what differs between any two calls (latency, endpoint)."""
    docs = {}
    for name in ("proposer_output.json", "critic_output.json"):
        doc = read(pack, name)
        doc.pop("latency_ms")
        for attempt in doc["attempts"]:
            attempt.pop("latency_ms")
            attempt.pop("endpoint")
        docs[name] = doc
    return docs


def test_background_and_streamed_calls_are_recorded_as_sent_and_replay(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, 'models."gpt-5.2-pro"', call_mode="blocking")
    happy_path(loopback)
    record = ["l2", "record", "--allow-network", "--yes", "--fixture"]
    result = runner.invoke(app, [*record, "blocking.json", "--out", "blocking/pack"])
    assert result.exit_code == 0, result.stderr

    set_keys(fast_config, 'models."gpt-5.2-pro"', call_mode="background")
    set_keys(fast_config, "models.deepseek-r1", call_mode="stream")
    set_keys(fast_config, "fallback_policy", poll_interval_seconds=0.05)
    loopback.reset()
    script_background(loopback, pending=3)
    loopback.reset_path(CHAT_PATH)
    loopback.script(CHAT_PATH, streamed(critic_handler("APPROVE")))
    result = runner.invoke(app, [*record, "long.json", "--out", "long/pack"])
    assert result.exit_code == 0, result.stderr
    banner = " ".join(result.stderr.split())
    assert "background call" in banner and "stream call" in banner
    assert "stored by the provider" in banner
    sent = [r.body for r in loopback.requests if r.method == "POST" and r.body]
    assert sent[0]["background"] is True and sent[-1]["stream"] is True

    # What crossed the wire differs, and the evidence says so: the requests (so their
    # hashes) differ by the call mode's fields; the answers are the same.
    long, blocking = _outputs(Path("long/pack")), _outputs(Path("blocking/pack"))
    for name, doc in long.items():
        assert {k for k in doc if doc[k] != blocking[name][k]} == {"prompt_hash"}, name
    runs = [json.loads(Path(f).read_text())["runs"] for f in ("long.json", "blocking.json")]
    added = []
    for one_long, one_blocking in zip(*runs, strict=True):
        assert one_long["response"] == one_blocking["response"]
        request, plain = one_long["request"], one_blocking["request"]
        added.append({k: v for k, v in request.items() if plain.get(k) != v})
    assert added == [
        {"background": True, "store": True},
        {"stream": True, "stream_options": {"include_usage": True}},
    ]
    # Replayed under the call modes it was recorded with, the fixture gives the same
    # outputs; under another mode the request differs: a fixture miss naming the hash.
    replay = runner.invoke(app, ["l2", "replay", "--fixture", "long.json", "--out", "replay"])
    assert replay.exit_code == 0, replay.stderr
    assert _outputs(Path("replay")) == _outputs(Path("long/pack"))
    set_keys(fast_config, 'models."gpt-5.2-pro"', call_mode="blocking")
    miss = runner.invoke(app, ["l2", "replay", "--fixture", "long.json", "--out", "miss"])
    assert miss.exit_code == 2 and "sha256:" in miss.stderr, miss.stderr
    assert runner.invoke(app, ["verify-pack", "long/pack"]).exit_code == 0


def test_a_long_background_run_completes_through_a_proxy_that_drops_idle_connections(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``aiops l2 live`` end to end; time compressed: idle drop after 0.5 s, a proposer
    call of 2.4 s (twelve polls, 0.2 s apart)."""
    set_keys(fast_config, "fallback_policy", poll_interval_seconds=0.2)
    script_background(loopback, pending=12)
    host, port = loopback.base_url.split("//")[1].split("/")[0].split(":")
    with IdleDroppingRelay((host, int(port)), idle_s=0.5) as relay:
        monkeypatch.setenv("OPENAI_BASE_URL", relay.base_url())
        result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert relay.drops == 0
    assert sum(r.method == "GET" for r in loopback.requests) == 13
    results = [line for line in result.stderr.splitlines() if " attempt " in line]
    # Twelve polls 0.2 s apart: at least 2.4 s (more on a loaded machine), one attempt.
    assert re.fullmatch(r"proposer gpt-5\.2-pro attempt 1: ok, HTTP 200, ([0-9.]+) s", results[0])
    assert float(results[0].rsplit(", ", 1)[1].removesuffix(" s")) >= 2.0
