"""Regenerate the chained sample fixtures from the shipped L2 sample, deterministically:

- ``fixtures/transcripts/l3_trade_plan_advisory_sample.json``: L3 advice taking the
  pack of ``aiops l2 replay`` (the shipped L2 sample) as its input pack;
- ``fixtures/transcripts/l4_governance_critic_sample.json``: the L4 verdict on that L2
  pack and on the L3 pack (two runs in one fixture, told apart by prompt hash).

It runs ``l2 replay`` in a scratch ledger, then aiops' own record mode against the
loopback server for L3 and L4 (so every prompt hash is exactly the one replay computes:
nothing here is copied by hand), and pins the loopback latencies to realistic figures.
Run it again whenever the L2 sample, a prompt set, a scope or an output schema changes:

    python -m tests.support.make_chain_fixtures
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json
from aiops.services.model_run import ModelRunOptions, run_model_layer
from aiops.services.run_layer import RunOptions
from tests.support import chain_sample
from tests.support.loopback import LoopbackServer
from tests.support.make_sample_fixture import record

REPO = Path(__file__).resolve().parents[2]
TRANSCRIPTS = REPO / "fixtures" / "transcripts"
L3_TARGET = TRANSCRIPTS / "l3_trade_plan_advisory_sample.json"
L4_TARGET = TRANSCRIPTS / "l4_governance_critic_sample.json"
EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00, as the L2 sample
PINNED_LATENCY_MS = {"proposer": 41870, "critic": 12604}


@contextmanager
def scratch() -> Iterator[Path]:
    """A working directory with its own ledger and per-user state."""
    before = Path.cwd()
    saved = {k: os.environ.get(k) for k in ("XDG_STATE_HOME", "XDG_CACHE_HOME")}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        try:
            yield Path(tmp)
        finally:
            os.chdir(before)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def replay(layer: str, fixture: Path | None = None, packs: list[str] | None = None) -> Path:
    """The pack an operator's ``replay`` writes (what L4 reviews must be a replay pack:
    the mode is part of the reviewed content)."""
    outcome = run_model_layer(
        ModelRunOptions(
            run=RunOptions(layer=layer, mode="replay"), fixture=fixture, input_packs=packs or []
        )
    )
    if outcome.status != "COMPLETED":
        raise SystemExit(f"{layer} replay ended {outcome.status}: {outcome.reason}")
    return outcome.pack_path


def _pinned(data: dict[str, Any], transcript_id: str) -> dict[str, Any]:
    for run in data["runs"]:
        run["metadata"]["latency_ms"] = PINNED_LATENCY_MS[run["role"]]
    data["transcript_id"] = transcript_id
    return data


def generate(workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The L3 and L4 fixtures, recorded in ``workdir`` (a scratch working directory)."""
    server = LoopbackServer()
    try:
        l2_pack = replay("l2")
        chain_sample.script_chain(
            server, "gpt-5.2-pro", lambda _: json.dumps(chain_sample.L3_OUTPUTS)
        )
        record("l3", workdir / "l3.json", server, packs=[str(l2_pack)])
        l3_pack = replay("l3", workdir / "l3.json", [str(l2_pack)])
        server.reset()
        chain_sample.script_chain(
            server, "o3-pro", lambda captured: json.dumps(chain_sample.l4_outputs(captured))
        )
        record("l4", workdir / "l4-on-l2.json", server, packs=[str(l2_pack)])
        record("l4", workdir / "l4-on-l3.json", server, packs=[str(l3_pack)])
    finally:
        server.close()
    if server.problems:
        raise SystemExit("request validation failed: " + "; ".join(server.problems))
    l3 = _pinned(json.loads((workdir / "l3.json").read_bytes()), "l3-trade-plan-advisory-sample")
    l4 = json.loads((workdir / "l4-on-l2.json").read_bytes())
    l4["runs"] += json.loads((workdir / "l4-on-l3.json").read_bytes())["runs"]
    return l3, _pinned(l4, "l4-governance-critic-sample")


def main() -> None:
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    with scratch() as workdir:
        l3, l4 = generate(workdir)
    L3_TARGET.write_bytes(pack_json(l3))
    L4_TARGET.write_bytes(pack_json(l4))
    print(f"wrote {L3_TARGET}\nwrote {L4_TARGET}")


if __name__ == "__main__":
    main()
