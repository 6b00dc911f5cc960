"""``aiops pilot report`` and its HTML report on a ledger of 10,000 packs (DESIGN.md:
under 2 s), as ratios to ``aiops verify-pack`` of the same ledger measured in the same
run; and where the report's time goes (in-process).

The report's completeness KPI is verify-pack's verdict on the whole ledger. Measured
four ways: with a cold per-user cache (every pack verified now, the cache filled), with
a warm one (packs unchanged since they verified are taken from it), with a warm one
after 10 packs changed (the morning after a day's runs), and with ``--no-cache``.
In-process: the verdicts and facts taken from the cache, drift (kept by content),
drift of outputs that all differ (no two texts alike, so nothing is compared once for
many packs), an LCS of two ~40,000-token outputs, and rendering the HTML.

The ledger is ``benchmarks/runs.py``'s: one replay pack chained 10,000 times, every
other one reviewed; the report counts replay packs (``--mode replay``).

Usage: ``python benchmarks/pilot_report.py [--packs N] [--runs N] [--ledger DIR]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import aiops_argv  # noqa: E402
from runs import build_ledger  # noqa: E402


def _median(argv: list[str], runs: int, env: dict[str, str], cold: Path | None = None) -> float:
    """Median wall time; exit 1 (a KPI not met: half the packs are not reviewed) is the
    report's normal outcome here. ``cold``: a cache directory emptied before each run."""
    samples = []
    for index in range(runs):
        run_env = env
        if cold is not None:
            run_env = {**env, "XDG_CACHE_HOME": str(cold / str(index))}
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=run_env)
        samples.append(time.perf_counter() - start)
        assert done.returncode in (0, 1), done.stderr
    return statistics.median(samples)


CHANGED = 10  # packs new since the last report: a day's runs on a desk


def _median_changed(ledger: Path, argv: list[str], runs: int, env: dict[str, str]) -> float:
    """The report after ``CHANGED`` packs changed since the cache was written (their
    ``review.json`` written again, the same bytes: the pack is verified now), as on the
    morning after a day's runs; the stamps are left 2.5 s to settle first."""
    samples = []
    packs = sorted(ledger.iterdir())
    for index in range(runs):
        for pack in packs[index * CHANGED : (index + 1) * CHANGED]:
            review = next(pack.glob("review.json"), None) or pack / "evidence_pack.json"
            data = review.read_bytes()
            review.unlink()
            review.write_bytes(data)
        time.sleep(2.5)
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        samples.append(time.perf_counter() - start)
        assert done.returncode in (0, 1), done.stderr
    return statistics.median(samples)


def _steps(ledger: Path) -> dict[str, float]:
    """Where the report's time goes, in this process (the cache is warm)."""
    from aiops.evidence.chain import verify_ledger
    from aiops.reporting.html import render_html
    from aiops.services import pilot_report as service
    from aiops.services.pilot_baseline import drift_points
    from aiops.services.pilot_drift import AnswerComparer, TokenIndex

    steps: dict[str, float] = {}
    start = time.perf_counter()
    verify_ledger(ledger)
    steps["verify-pack over the ledger"] = time.perf_counter() - start
    start = time.perf_counter()
    read = service._read_ledger(ledger, None)
    steps["cache: verdicts and facts"] = time.perf_counter() - start
    facts = [p.facts for p in read.packs if p.facts is not None]
    start = time.perf_counter()
    drift_points(ledger, facts, read.answer_of)
    steps["drift against the baseline"] = time.perf_counter() - start
    answer = read.answer_of(facts[0])
    distinct = [_distinct(answer, n) for n in range(len(facts))]
    start = time.perf_counter()
    comparer = AnswerComparer(answer)
    for other in distinct:
        comparer.token_drift(other)
    steps["drift, every output distinct"] = time.perf_counter() - start
    words = [f"w{i}" for i in range(40_000)]
    changed = words[:18_000] + ["x"] * 1_000 + words[19_000:]
    start = time.perf_counter()
    TokenIndex(words).lcs(changed)
    steps["LCS of 2 x 40,000 tokens"] = time.perf_counter() - start
    start = time.perf_counter()
    report = service.pilot_report(service.ReportOptions(ledger=ledger, modes=frozenset({"replay"})))
    steps["the whole report"] = time.perf_counter() - start
    start = time.perf_counter()
    render_html(report)
    steps["rendering the HTML"] = time.perf_counter() - start
    return steps


def _distinct(answer: dict[str, Any], n: int) -> dict[str, Any]:
    """The answer with one word of its summary made unique to it."""
    changed = copy.deepcopy(answer)
    outputs = changed["parsed"]["outputs"]
    summary = next(o for o in outputs if isinstance(o.get("summary"), str))
    summary["summary"] = f"pack{n} " + summary["summary"]
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ledger", type=Path, help="an existing ledger (not built)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        start = time.perf_counter()
        ledger = args.ledger or build_ledger(Path(tmp), args.packs)
        built = time.perf_counter() - start
        time.sleep(2.5)  # the cache does not trust a file changed in its last 2 s
        html = str(Path(tmp) / "pilot.html")
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        verify_argv = aiops_argv("verify-pack", str(ledger), "--json")
        report_argv = aiops_argv("pilot", "report", str(ledger), "--mode", "replay", "--json")
        html_argv = aiops_argv("pilot", "report", str(ledger), "--mode", "replay", "--html", html)
        subprocess.run(verify_argv, stdout=subprocess.DEVNULL, env=env)  # warm the page cache
        times = {
            "aiops verify-pack --json": _median(verify_argv, args.runs, env),
            "pilot report --json, cold cache": _median(
                report_argv, args.runs, env, Path(tmp) / "cold"
            ),
            "pilot report --json --no-cache": _median([*report_argv, "--no-cache"], args.runs, env),
        }
        subprocess.run(  # fill the cache
            report_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        times["pilot report --json, warm cache"] = _median(report_argv, args.runs, env)
        times["pilot report --html, warm cache"] = _median(html_argv, args.runs, env)
        times[f"--json, {CHANGED} packs new since"] = _median_changed(
            ledger, report_argv, args.runs, env
        )
        size = os.path.getsize(html)
        base = times["aiops verify-pack --json"]
        count = sum(1 for _ in ledger.iterdir())
        print(f"ledger of {count} replay packs (built in {built:.1f} s), median of {args.runs}:")
        for name, seconds in times.items():
            print(f"  {name:<34} {seconds:6.2f} s   {seconds / base:.2f}x")
        print(f"  (target < 2 s; the HTML page is {size / 1e6:.1f} MB)")
        os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        print("in-process, one run each:")
        for step, seconds in _steps(ledger).items():
            print(f"  {step:<34} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
