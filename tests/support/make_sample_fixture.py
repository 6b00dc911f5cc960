"""Regenerate fixtures/transcripts/l2_market_outlook_sample.json deterministically.

It runs aiops' own record mode against the loopback server (so the prompt hashes are
exactly those replay computes), then pins the latencies — measured on loopback they
mean nothing and would change every run — to realistic figures.

    python -m tests.support.make_sample_fixture
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json
from aiops.services.model_run import ModelRunOptions, run_model_layer
from aiops.services.run_layer import RunOptions
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "fixtures" / "transcripts" / "l2_market_outlook_sample.json"
EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00
PINNED_LATENCY_MS = {"proposer": 48213, "critic": 9120}


def record(
    layer: str,
    fixture: Path,
    server: LoopbackServer,
    out: Path | None = None,
    packs: list[str] | None = None,
) -> Path:
    """Record ``layer`` against ``server`` into ``fixture`` (keys made here, obviously
    fake); the pack it wrote. A run that does not complete stops the generator."""
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "DEEPSEEK_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "test-key-" + secrets.token_hex(8),
        "DEEPSEEK_API_KEY": "test-key-" + secrets.token_hex(8),
    }
    # The recording's spend and rate-limit state stays out of the operator's state
    # directory: generating a fixture must not spend anybody's budget.
    saved = os.environ.get("XDG_STATE_HOME")
    with tempfile.TemporaryDirectory() as state:
        os.environ["XDG_STATE_HOME"] = state
        try:
            outcome = run_model_layer(
                ModelRunOptions(
                    run=RunOptions(layer=layer, mode="record", out=out),
                    fixture=fixture,
                    allow_network=True,
                    force=True,
                    input_packs=packs or [],
                ),
                environ=env,
            )
        finally:
            if saved is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = saved
    if outcome.exit_code:
        raise SystemExit(f"{layer} record ended {outcome.status}: {outcome.reason}")
    return outcome.pack_path


def make_fixture(
    layer: str, script: Any, target: Path, latency: dict[str, int], transcript_id: str
) -> None:
    """Record ``layer`` against a loopback server scripted by ``script`` and write the
    fixture to ``target`` with each role's latency pinned to ``latency``."""
    server = LoopbackServer()
    script(server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            recorded = Path(tmp) / "recorded.json"
            record(layer, recorded, server, Path(tmp) / f"pack-{layer}")
            data = json.loads(recorded.read_bytes())
    finally:
        server.close()
    if server.problems:
        raise SystemExit("request validation failed: " + "; ".join(server.problems))
    for run in data["runs"]:
        run["metadata"]["latency_ms"] = latency[run["role"]]
    data["transcript_id"] = transcript_id
    target.write_bytes(pack_json(data))
    print(f"wrote {target}")


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    make_fixture("l2", happy_path, TARGET, PINNED_LATENCY_MS, "l2-market-outlook-sample-2026-01-10")


if __name__ == "__main__":
    main()
