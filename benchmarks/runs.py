"""``aiops runs`` on a ledger of 10,000 packs (DESIGN.md: under 2 s), as a ratio to
``aiops verify-pack`` of the same ledger measured in the same run.

The ledger is written directly, as ``benchmarks/verify.py`` writes its own: one
template pack (a replay, so every pack has proposer and critic outputs to read), then
indexes chained by hash. Half the packs carry a review, so the review column is read.

Usage: ``python benchmarks/runs.py [--packs N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import aiops_argv, chain_copies  # noqa: E402

EPOCH = "1768046400"


def _replay_pack(path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    subprocess.run(
        aiops_argv("l2", "replay", "--out", str(path)),
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=path.parent,
    )


def build_ledger(root: Path, count: int) -> Path:
    """``count`` chained replay packs from one template; every other one reviewed."""
    from aiops.canonical import pack_json

    def review_odd(pack: Path, index: dict[str, object], sha: str) -> None:
        if int(str(index["sequence"])) % 2:
            (pack / "review.json").write_bytes(pack_json(_review(index, sha)))

    template = root / "template"
    _replay_pack(template)
    return chain_copies(template, root / "ledger", count, review_odd)


def _review(index: dict[str, object], sha: str) -> dict[str, object]:
    return {
        "evidence_pack_id": index["evidence_pack_id"],
        "run_id": index["run_id"],
        "evidence_pack_sha256": sha,
        "reviewer": "operator-a",
        "decision": "APPROVE",
        "notes": "",
        "review_started_at": "2026-01-10T13:00:00+00:00",
        "review_ended_at": "2026-01-10T13:05:00+00:00",
    }


def _best(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or dict(os.environ)
        )
        samples.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        start = time.perf_counter()
        ledger = build_ledger(Path(tmp), args.packs)
        built = time.perf_counter() - start
        runs_argv = aiops_argv("runs", "--ledger", str(ledger), "--json")
        table_argv = aiops_argv("runs", "--ledger", str(ledger))
        verify_argv = aiops_argv("verify-pack", str(ledger), "--json")
        subprocess.run(verify_argv, check=True, stdout=subprocess.DEVNULL)  # warm the cache
        verify_t = _best(verify_argv, args.runs)
        # The first listing reads every pack in full and fills the row cache.
        cold_env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        cold_t = _best(runs_argv, 1, cold_env)
        runs_t = _best(runs_argv, args.runs, cold_env)
        table_t = _best(table_argv, args.runs, cold_env)
        print(f"ledger of {args.packs} replay packs (built in {built:.1f} s), best of {args.runs}:")
        print(f"  aiops verify-pack --json  {verify_t:6.2f} s   1.00x")
        print(f"  aiops runs --json, cold   {cold_t:6.2f} s   {cold_t / verify_t:.2f}x  (no cache)")
        print(
            f"  aiops runs --json         {runs_t:6.2f} s   {runs_t / verify_t:.2f}x"
            "  (target < 2 s)"
        )
        print(f"  aiops runs (table)        {table_t:6.2f} s   {table_t / verify_t:.2f}x")


if __name__ == "__main__":
    main()
