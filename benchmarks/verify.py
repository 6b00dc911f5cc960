"""verify-pack budgets, as ratios measured in one run (DESIGN.md "Performance budgets").

1. A 1 GiB pack verified vs ``hashlib.file_digest`` on the same bytes: throughput
   ratio (target >= 0.90) and the verifier's peak RSS (target <= 100 MiB). Each side
   runs in its own child process, after one warm-up read so both hash from the cache.
2. A ledger of 10,000 packs verified by ``aiops verify-pack LEDGER --json``: packs
   per second (target >= 1,000), twice: on small dry-run packs, and on replay packs
   (model outputs, web sources, every other pack reviewed: ``runs.build_ledger``),
   which hold what real runs write. Each ledger is written directly (one template pack,
   then indexes chained by hash), not by 10,000 runs.
3. ``aiops verify-pack`` on a small pack vs a bare Typer app's ``--help`` (target <= 1.3).

Usage: ``python benchmarks/verify.py [--size-mib N] [--packs N] [--runs N]
[--only startup|ledgers|big]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import BARE_TYPER_APP, aiops_argv, chain_copies, ratio, time_commands  # noqa: E402
from runs import build_ledger as build_replay_ledger  # noqa: E402

EPOCH = "1768046400"
CHILD_VERIFY = """
import json, resource, sys, time
from pathlib import Path
from aiops.services.verify_pack import VerifyOptions, verify
start = time.perf_counter()
report = verify(VerifyOptions(Path(sys.argv[1]))).report
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "verified": report.verified, "rss": rss}))
"""
CHILD_DIGEST = """
import hashlib, json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    hashlib.file_digest(handle, "sha256")
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "rss": rss}))
"""


def _child(script: str, arg: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", script, str(arg)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _dry_pack(path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    subprocess.run(
        aiops_argv("l2", "dry-run", "--out", str(path)),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _rerecord(pack: Path, name: str, digest: str, size: int) -> None:
    from aiops.canonical import pack_json

    index_path = pack / "evidence_pack.json"
    index = json.loads(index_path.read_bytes())
    for artifact in index["artifacts"]:
        if artifact["name"] == name:
            artifact["digest"] = {"sha256": digest}
            artifact["size"] = size
    index_path.write_bytes(pack_json(index))


def big_pack(root: Path, size_mib: int, runs: int) -> None:
    pack = root / "big"
    _dry_pack(pack)
    target = pack / "operator_output.md"
    header = target.read_bytes()  # keeps the run id and status lines the checks read
    block = (b"scenario analysis line of the operator report, repeated for size.\n" * 16384)[
        : 1024 * 1024
    ]
    hasher = hashlib.sha256(header)
    with target.open("ab") as handle:
        for _ in range(size_mib):
            handle.write(block)
            hasher.update(block)
    size = target.stat().st_size
    _rerecord(pack, "operator_output.md", hasher.hexdigest(), size)
    _child(CHILD_DIGEST, target)  # warm the page cache
    verify_runs = [_child(CHILD_VERIFY, pack) for _ in range(runs)]
    digest_runs = [_child(CHILD_DIGEST, target) for _ in range(runs)]
    assert all(run["verified"] for run in verify_runs), "the big pack must verify"
    best_verify = min(run["seconds"] for run in verify_runs)
    best_digest = min(run["seconds"] for run in digest_runs)
    rss = max(run["rss"] for run in verify_runs)
    mib = size / 1024**2
    print(f"1 GiB pack ({mib:.0f} MiB), best of {runs}:")
    print(f"  hashlib.file_digest   {mib / best_digest:8.0f} MiB/s")
    print(
        f"  verify-pack           {mib / best_verify:8.0f} MiB/s   "
        f"{best_digest / best_verify:.2f}x of file_digest  (target >= 0.90)"
    )
    print(f"  verify-pack peak RSS  {rss / 1024**2:8.1f} MiB   (target <= 100)")
    shutil.rmtree(pack)


def build_ledger(root: Path, count: int) -> Path:
    """``count`` chained packs written directly from one template dry-run pack."""
    template = root / "template"
    _dry_pack(template)
    ledger = chain_copies(template, root / "ledger", count)
    shutil.rmtree(template)
    return ledger


def ledger_rate(root: Path, count: int, kind: str, build: Callable[[Path, int], Path]) -> None:
    """Packs per second verifying ``count`` packs of ``kind`` built by ``build`` (each
    ledger in its own directory, removed afterwards): best and median of 3."""
    where = root / f"ledger-{kind}"
    where.mkdir()
    start = time.perf_counter()
    ledger = build(where, count)
    built = time.perf_counter() - start
    argv = aiops_argv("verify-pack", str(ledger), "--json")
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)  # warm the cache
    samples = [_timed(argv) for _ in range(3)]
    best, median = min(samples), statistics.median(samples)
    print(f"ledger of {count} {kind} packs (built in {built:.1f} s), 3 runs:")
    print(
        f"  aiops verify-pack --json  best {best:6.2f} s {count / best:6.0f} packs/s, "
        f"median {median:6.2f} s {count / median:6.0f} packs/s  (target >= 1000)"
    )
    shutil.rmtree(where)


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def small_pack_startup(root: Path, runs: int) -> None:
    pack = root / "small"
    _dry_pack(pack)
    bare = root / "bare.py"
    bare.write_text(BARE_TYPER_APP)
    samples = time_commands(
        {
            "bare": [sys.executable, str(bare), "--help"],
            "table": aiops_argv("verify-pack", str(pack)),
            "json": aiops_argv("verify-pack", str(pack), "--json"),
        },
        runs,
    )
    ms = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    print(f"small pack, median of {runs} interleaved rounds:")
    print(f"  bare typer --help          {ms['bare']:7.1f} ms   1.00x")
    print(
        f"  aiops verify-pack (table)  {ms['table']:7.1f} ms   "
        f"{ratio(samples, 'table', 'bare'):.2f}x  (target <= 1.30)"
    )
    print(
        f"  aiops verify-pack --json   {ms['json']:7.1f} ms   {ratio(samples, 'json', 'bare'):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--packs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=("startup", "ledgers", "big"), default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        root = Path(tmp)
        if args.only in (None, "startup"):
            small_pack_startup(root, args.runs)
        if args.only in (None, "ledgers"):
            ledger_rate(root, args.packs, "dry-run", build_ledger)
            ledger_rate(root, args.packs, "replay", build_replay_ledger)
        if args.only in (None, "big"):
            big_pack(root, args.size_mib, 3)


if __name__ == "__main__":
    main()
