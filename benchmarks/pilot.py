"""Pilot commands on a synthetic ledger: ``aiops pilot report`` (30 days, and 365 days)
and ``aiops pilot drift`` on large outputs, as ratios over ``aiops --help`` measured in
the same run, plus in-process time per pack of the report service (which runs
verify-pack over the whole ledger). The ledgers are built as the tests build theirs:
fixtures recorded through record mode on the loopback server, replayed day by day."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _timing import aiops_argv  # noqa: E402

from aiops.evidence.reader import load_pack  # noqa: E402
from aiops.services.pilot_drift import BaselineComparer  # noqa: E402
from aiops.services.pilot_report import ReportOptions, pilot_report  # noqa: E402
from tests.support.pilot import (  # noqa: E402
    DRIFT_WORDS,
    Variant,
    baseline_outputs,
    build_pilot_ledger,
    day_epoch,
    day_fixture,
    record_fixture,
    record_fixtures,
    replay,
    review_pack,
)

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


def time_command(argv: Sequence[str], runs: int) -> float:
    """Median wall time; exit 1 (a KPI or drift flag) is a normal outcome here."""
    samples = []
    for index in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert done.returncode in (0, 1), argv
        if index:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("AIOPS_PACKS_DIR", None)
        os.environ.pop("AIOPS_CONFIG_DIR", None)
        work = Path(tmp)
        fixtures = record_fixtures(work / "fixtures")
        month, year = work / "month", work / "year"
        build_pilot_ledger(month, fixtures, work / "days")
        drifting = [fixtures["baseline"], *(fixtures[f"drift-{k}"] for k in DRIFT_WORDS.values())]
        for day in range(1, 366):
            fixture = day_fixture(drifting[day % 4], day % 30 + 1, work / "year-day.json")
            review_pack(replay(fixture, year, day), day_epoch(day) + 3600, 5)
        words = [f"w{i}" for i in range(20000)]  # ~40,000 tokens per output
        base, changed = baseline_outputs(), baseline_outputs()
        base["outputs"][3]["summary"] = " ".join(words)
        changed["outputs"][3]["summary"] = " ".join(words[:9000] + ["x"] * 500 + words[9500:])
        big = work / "big"
        a = replay(record_fixture(Variant("big-a", base), work / "big-a.json", work), big, 1)
        b = replay(record_fixture(Variant("big-b", changed), work / "big-b.json", work), big, 2)

        help_time = time_command(aiops_argv("--help"), runs)
        month_t = time_command(aiops_argv("pilot", "report", *NOT_LIVE, str(month)), runs)
        year_t = time_command(aiops_argv("pilot", "report", *NOT_LIVE, str(year), "--json"), runs)
        drift_t = time_command(aiops_argv("pilot", "drift", str(a), str(b)), runs)
        start = time.perf_counter()
        pilot_report(ReportOptions(ledger=year, modes=frozenset({"replay"})))
        per_pack = (time.perf_counter() - start) / 365
        start = time.perf_counter()
        BaselineComparer(load_pack(a)).compare(load_pack(b))
        big_drift = time.perf_counter() - start
    print(f"aiops --help                      {help_time * 1000:8.1f} ms   1.00x")
    print(
        f"pilot report, 30 packs            {month_t * 1000:8.1f} ms   {month_t / help_time:.2f}x"
    )
    print(f"pilot report --json, 365 packs    {year_t * 1000:8.1f} ms   {year_t / help_time:.2f}x")
    print(
        f"pilot drift, 2 x ~40k tokens      {drift_t * 1000:8.1f} ms   {drift_t / help_time:.2f}x"
    )
    print(f"report service per pack (365)     {per_pack * 1000:8.2f} ms")
    print(f"drift service, 2 x ~40k tokens    {big_drift * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
