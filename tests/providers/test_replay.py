"""Replay never opens a socket and never loads httpx; misses and recorded failures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.canonical import prompt_hash
from aiops.cli import app
from aiops.errors import FixtureError
from aiops.providers.base import ProviderCallError
from aiops.providers.replay import ReplayClient
from aiops.providers.responses import build_body
from aiops.schemas.transcript import RecordedError, RunMetadata, Transcript, TranscriptRun
from tests.providers.helpers import make_request
from tests.support.loopback import responses_answer

REPO = Path(__file__).resolve().parents[2]


def test_replay_creates_no_socket(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("replay opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    result = runner.invoke(app, ["l2", "replay"])
    assert result.exit_code == 0, result.stderr


def test_replay_imports_no_httpx_and_no_pydantic_settings(tmp_path: Path) -> None:
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('socket opened')\n"
        "socket.socket = refuse\n"
        "socket.create_connection = refuse\n"
        "from aiops.cli import app\n"
        "try:\n"
        "    app(['l2', 'replay'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "heavy = ('httpx', 'httpcore', 'pydantic_settings', 'ssl')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "print('LOADED=' + ','.join(loaded))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED=\n" in done.stdout or done.stdout.rstrip().endswith("LOADED=")


def _transcript(run: TranscriptRun) -> Transcript:
    return Transcript(
        transcript_id="t",
        recorded_at="2026-01-10T12:00:00+00:00",
        scenario="s",
        layer_id="L2",
        prompt_id="l2_market_outlook",
        prompt_version="1",
        runs=[run],
    )


def _run(request_body: dict[str, object], **fields: object) -> TranscriptRun:
    values: dict[str, object] = {
        "run_id": "proposer-run-001",
        "role": "proposer",
        "model_id": "gpt-5.2-pro",
        "endpoint_kind": "responses",
        "prompt_hash": prompt_hash(request_body),
        "request": request_body,
        "response": responses_answer('{"outputs": []}'),
        "metadata": RunMetadata(
            timestamp="2026-01-10T12:00:00+00:00", latency_ms=7, http_status=200
        ),
    }
    values.update(fields)
    return TranscriptRun.model_validate(values)


def test_lookup_is_by_the_hash_of_the_body_a_real_client_would_send() -> None:
    request = make_request()
    client = ReplayClient(_transcript(_run(build_body(request))), "f.json", "L2")
    exchange = client.complete(request)
    assert exchange.text == '{"outputs": []}'
    assert exchange.latency_ms == 7
    assert exchange.attempts[0].endpoint == "replay:f.json"
    assert exchange.attempts[0].http_status == 200


def test_miss_names_the_hash_and_suggests_record() -> None:
    request = make_request()
    other = make_request(user_prompt="different inputs")
    client = ReplayClient(_transcript(_run(build_body(request))), "f.json", "L2")
    with pytest.raises(FixtureError) as caught:
        client.complete(other)
    expected = prompt_hash(build_body(other))
    assert expected in str(caught.value)
    assert "aiops l2 record --allow-network --fixture" in str(caught.value)
    assert caught.value.exit_code == 2


def test_recorded_failure_replays_as_the_same_error() -> None:
    request = make_request()
    run = _run(
        build_body(request),
        response=None,
        error=RecordedError(
            error_class="rate_limit",
            message="HTTP 429",
            http_status=429,
            retryable=True,
            fallback_ok=True,
        ),
    )
    client = ReplayClient(_transcript(run), "f.json", "L2")
    with pytest.raises(ProviderCallError) as caught:
        client.complete(request)
    assert (caught.value.error_class, caught.value.http_status) == ("rate_limit", 429)
    assert caught.value.attempts[0].error_class == "rate_limit"


def test_a_run_holds_a_response_or_an_error() -> None:
    with pytest.raises(ValueError, match="exactly one of response and error"):
        _run({"model": "x"}, response=None)


def test_shipped_fixture_is_sorted_and_realistic() -> None:
    path = REPO / "fixtures" / "transcripts" / "l2_market_outlook_sample.json"
    raw = path.read_text()
    data = json.loads(raw)
    assert raw == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    proposer, critic = data["runs"]
    assert [item["type"] for item in proposer["response"]["output"]] == ["reasoning", "message"]
    assert proposer["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    assert "temperature" not in proposer["request"]
    assert critic["response"]["choices"][0]["message"]["reasoning_content"]
    assert critic["request"]["model"] == "deepseek-r1"
