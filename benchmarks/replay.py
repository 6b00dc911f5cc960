"""Replay and orchestration budgets, measured in one run (ratios, not pass/fail).

1. ``aiops l2 replay`` wall time over the stack floor (target <= 1.3, DESIGN.md): a
   bare Typer command that parses one option, builds one Pydantic model and prints
   with Rich (``_timing.STACK_FLOOR_APP``), i.e. the least any run costs on this stack;
   with ``aiops --help``, a bare Typer app's ``--help`` and ``aiops l2 dry-run`` for
   reference. The commands run interleaved (each round runs each once), so a loaded,
   shared machine weighs on both sides of a ratio alike.
2. Orchestration overhead per model call: full ``live`` runs in-process against a
   loopback server that answers at once (imports and config warm), divided by the two
   calls of a run; plus the share spent inside the HTTP client's ``complete`` and in
   the per-attempt controls (rate-limit slot, budget reservation and settlement, audit
   line). Runs in a temporary directory, so the audit log, spend ledger and rate-limit
   state start empty and stay out of the working tree.

    python benchmarks/replay.py [RUNS]
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _timing import (  # noqa: E402
    BARE_TYPER_APP,
    STACK_FLOOR_APP,
    aiops_argv,
    ratio,
    time_commands,
)


def startup(runs: int) -> None:
    """Every command of a round runs once, in turn (``_timing.time_commands``); each line
    shows the median time and the ratio is the median of the rounds' ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(STACK_FLOOR_APP)
        bare_script = Path(tmp) / "bare.py"
        bare_script.write_text(BARE_TYPER_APP)
        env = {"SOURCE_DATE_EPOCH": "1768046400", "AIOPS_PACKS_DIR": str(Path(tmp) / "packs")}
        samples = time_commands(
            {
                "bare": [sys.executable, str(bare_script), "--help"],
                "help": aiops_argv("--help"),
                "floor": [sys.executable, str(floor_script), "run"],
                "dry": aiops_argv("l2", "dry-run"),
                "replay": aiops_argv("l2", "replay"),
            },
            runs,
            env=env,
        )
    ms = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    rows = [
        ("bare typer --help", "bare", ""),
        ("aiops --help", "help", f"{ratio(samples, 'help', 'bare'):.2f}x bare"),
        ("aiops l2 dry-run", "dry", f"{ratio(samples, 'dry', 'floor'):.2f}x the floor"),
        (
            "stack floor",
            "floor",
            f"{ratio(samples, 'floor', 'help'):.2f}x --help  (bare Typer command: one "
            "option, one Pydantic model, Rich print)",
        ),
        (
            "aiops l2 replay",
            "replay",
            f"{ratio(samples, 'replay', 'floor'):.2f}x the floor  (target <= 1.30)",
        ),
    ]
    for label, name, note in rows:
        print(f"{label:24s} {ms[name]:8.1f} ms   {note}".rstrip())
    pairs = zip(samples["replay"], samples["floor"], strict=True)
    above = statistics.median(r - f for r, f in pairs)
    print(f"replay above the floor   {above * 1000:8.1f} ms   (aiops's own work)")


def orchestration(runs: int) -> None:
    import aiops.services.run_writing as run_writing
    from aiops.governance.call_guard import CallGuard
    from aiops.providers.openai_compatible import OpenAICompatibleClient
    from aiops.services.model_run import ModelRunOptions, run_model_layer
    from aiops.services.run_layer import RunOptions
    from tests.support.loopback import LoopbackServer
    from tests.support.scripts import happy_path

    timings: dict[str, list[float]] = {
        "client": [],
        "setup": [],
        "pack": [],
        "before": [],
        "after": [],
    }

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                timings[name].append(time.perf_counter() - start)

        return wrapper

    # Instrument, do not change: the same functions run, their wall time is noted.
    OpenAICompatibleClient.complete = timed("client", OpenAICompatibleClient.complete)  # type: ignore[method-assign]
    OpenAICompatibleClient.__init__ = timed("setup", OpenAICompatibleClient.__init__)  # type: ignore[method-assign]
    run_writing.write_evidence = timed("pack", run_writing.write_evidence)  # type: ignore[attr-defined]
    CallGuard.before_attempt = timed("before", CallGuard.before_attempt)  # type: ignore[method-assign]
    CallGuard.after_attempt = timed("after", CallGuard.after_attempt)  # type: ignore[method-assign]
    os.environ["SOURCE_DATE_EPOCH"] = "1768046400"
    server = LoopbackServer(validate=False)
    happy_path(server)
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "DEEPSEEK_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "test-key-" + secrets.token_hex(8),
        "DEEPSEEK_API_KEY": "test-key-" + secrets.token_hex(8),
    }
    totals: list[float] = []
    here = Path.cwd()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            # Spend, rate-limit and search state of the runs stay in the temporary
            # directory: a benchmark must not spend the operator's budget.
            os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
            for index in range(runs + 1):
                options = ModelRunOptions(
                    run=RunOptions(layer="l2", mode="live", out=Path(tmp) / f"pack{index}"),
                    allow_network=True,
                )
                start = time.perf_counter()
                run_model_layer(options, environ=env)
                if index:  # the first run warms imports, schemas and the server
                    totals.append(time.perf_counter() - start)
    finally:
        os.chdir(here)
        server.close()
    calls = 2
    run = statistics.median(totals)
    client = statistics.median(timings["client"][calls:])
    setup = statistics.median(timings["setup"][1:])
    pack = statistics.median(timings["pack"][1:])
    before = statistics.median(timings["before"][calls:])
    after = statistics.median(timings["after"][calls:])
    print(f"live run, loopback       {run * 1000:8.1f} ms per run ({calls} calls)")
    print(f"orchestration per call   {run / calls * 1000:8.1f} ms   (target <= 20; run / calls)")
    print(f"  HTTP client per call   {client * 1000:8.1f} ms   (build body, send, parse)")
    print(f"  guard before attempt   {before * 1000:8.1f} ms   (rate-limit slot, budget reserve)")
    print(f"  guard after attempt    {after * 1000:8.1f} ms   (spend settle, audit line)")
    print(f"  per run: HTTP setup    {setup * 1000:8.1f} ms   (httpx client; TLS context shared)")
    first = timings["setup"][0]
    print(f"  once per process       {first * 1000:8.1f} ms   (first client: loads the CA bundle)")
    print(f"  per run: pack write    {pack * 1000:8.1f} ms   (hash, fsync, rename)")
    rest = (run - setup - pack) / calls
    print(f"per call without setup and pack write {rest * 1000:6.1f} ms")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    startup(runs)
    orchestration(runs)


if __name__ == "__main__":
    main()
