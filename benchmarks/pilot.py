"""Pilot commands on a synthetic ledger: ``aiops pilot report`` (30 days, and 365 days)
and ``aiops pilot drift`` on large outputs, as ratios over ``aiops --help`` measured in
the same run, plus in-process time per pack of the report service."""

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
from tests.pilot_ledger import (  # noqa: E402
    DaySpec,
    baseline_parsed,
    build_pilot_ledger,
    with_summary_substituted,
    write_l2_pack,
)


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
        month, year = Path(tmp) / "month", Path(tmp) / "year"
        build_pilot_ledger(month)
        for day in range(1, 366):
            parsed = with_summary_substituted(baseline_parsed(), day % 30)
            write_l2_pack(year, DaySpec(day=day, parsed=parsed, review_minutes=5))
        big = Path(tmp) / "big"
        words = [f"w{i}" for i in range(20000)]  # ~40,000 tokens per output
        base = baseline_parsed()
        base["outputs"][4]["summary"] = " ".join(words)
        changed = baseline_parsed()
        changed["outputs"][4]["summary"] = " ".join(words[:9000] + ["x"] * 500 + words[9500:])
        a = write_l2_pack(big, DaySpec(day=1, parsed=base))
        b = write_l2_pack(big, DaySpec(day=2, parsed=changed))

        help_time = time_command(aiops_argv("--help"), runs)
        month_t = time_command(aiops_argv("pilot", "report", str(month)), runs)
        year_t = time_command(aiops_argv("pilot", "report", str(year), "--json"), runs)
        drift_t = time_command(aiops_argv("pilot", "drift", str(a), str(b)), runs)
        start = time.perf_counter()
        pilot_report(ReportOptions(ledger=year))
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
