"""Timing helpers shared by the benchmark scripts. Benchmarks print ratios measured in
one run against a baseline measured in the same run, never absolute pass/fail times."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BARE_TYPER_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "x") -> None:
    print(name)
@app.command()
def bye() -> None:
    pass
app()
"""


def time_command(
    argv: Sequence[str], runs: int = 15, cwd: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Median wall time in seconds of ``argv`` over ``runs`` (after one warm-up)."""
    merged = {**os.environ, **(env or {})}
    # Measure the installed steady state: bytecode cached, as pip leaves an install. With
    # this variable set, every run would compile aiops's sources afresh.
    merged.pop("PYTHONDONTWRITEBYTECODE", None)
    samples = []
    for index in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(
            argv,
            cwd=cwd,
            env=merged,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if index:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_commands(
    commands: dict[str, Sequence[str]], runs: int = 15, env: dict[str, str] | None = None
) -> dict[str, list[float]]:
    """Wall times in seconds of each command over ``runs`` rounds (after one warm-up
    round), interleaved: every round runs each command once, in turn. On a shared,
    loaded machine the load then weighs on every command of a round alike, so the
    ratios of one round hold even when the absolute times drift between rounds."""
    merged = {**os.environ, **(env or {})}
    merged.pop("PYTHONDONTWRITEBYTECODE", None)  # the installed steady state, as above
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(runs + 1):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(
                argv, env=merged, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if index:
                samples[name].append(time.perf_counter() - start)
    return samples


def ratio(samples: dict[str, list[float]], name: str, base: str) -> float:
    """The median over rounds of ``name``'s time divided by ``base``'s in that round."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[base], strict=True))


def bare_typer_help(runs: int = 15) -> float:
    """The baseline: a two-command Typer app's ``--help`` on this machine, now."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE_TYPER_APP)
        return time_command([sys.executable, str(script), "--help"], runs)


# The least any run of a command with options costs on the stack DESIGN.md prescribes:
# Typer parses one option (Typer coerces option values through Pydantic, so this
# alone imports Pydantic), the command body imports what a run renders and validates
# with (Rich, a Pydantic model) and does nothing else.
STACK_FLOOR_APP = """
import typer
from pathlib import Path
app = typer.Typer()
@app.command()
def run(fixture: Path = Path("fixture.json")) -> None:
    from pydantic import BaseModel
    import rich.console, rich.table
    class Result(BaseModel):
        fixture: str
    rich.console.Console().print(Result(fixture=str(fixture)).fixture)
@app.command()
def other() -> None:
    pass
app()
"""


def stack_floor(runs: int = 15) -> float:
    """A bare Typer command that parses an option, builds one Pydantic model and prints
    it with Rich: the floor under any ``aiops`` run, whatever aiops itself does."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "floor.py"
        script.write_text(STACK_FLOOR_APP)
        return time_command([sys.executable, str(script), "run"], runs)


def aiops_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "aiops", *args]


# Told each written pack's directory, its index and the SHA-256 of its evidence_pack.json.
PackHook = Callable[[Path, dict[str, object], str], None]


def chain_copies(template: Path, ledger: Path, count: int, each: PackHook | None = None) -> Path:
    """``count`` chained packs in ``ledger``, written directly from the pack at
    ``template`` (its files copied, its index re-chained), far faster than real runs."""
    from aiops.canonical import pack_json
    from aiops.evidence.ledger import evidence_pack_id, pack_dir_name

    index = json.loads((template / "evidence_pack.json").read_bytes())
    files = {p.name: p.read_bytes() for p in template.iterdir() if p.name != "evidence_pack.json"}
    ledger.mkdir()
    day = index["creation_timestamp"][:10]
    previous_id: str | None = None
    previous_sha: str | None = None
    for sequence in range(1, count + 1):
        pack = ledger / pack_dir_name(index["layer_id"], index["layer_name"], day, sequence)
        pack.mkdir()
        for name, data in files.items():
            (pack / name).write_bytes(data)
        index.update(
            evidence_pack_id=evidence_pack_id(index["layer_id"], day, sequence),
            sequence=sequence,
            previous_pack_id=previous_id,
            previous_pack_sha256=previous_sha,
        )
        data = pack_json(index)
        (pack / "evidence_pack.json").write_bytes(data)
        previous_id, previous_sha = index["evidence_pack_id"], hashlib.sha256(data).hexdigest()
        if each is not None:
            each(pack, index, previous_sha)
    return ledger
