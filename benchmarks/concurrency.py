"""Robustness of one ledger under concurrent runs (a count, not a timing).

Each trial starts a fresh ledger holding two packs, then releases RUNS ``aiops``
processes into it at once — ``l2 replay``, ``l2 dry-run`` and (when named in
``--modes``) ``l2 live`` and ``l2 record`` against a loopback server that answers at
once, taken in turn — plus a review of each of the two packs. When all have finished,
``verify-pack`` checks the ledger. The figure that matters is the number of ledgers
that do not verify (target: 0); runs that exited non-zero and what they said are
counted too.

    python benchmarks/concurrency.py [--trials 50] [--runs 32]
                                     [--modes replay,dry-run,live,record]
                                     [--clock real|fixed]

``--clock fixed`` pins ``SOURCE_DATE_EPOCH`` for every process (the reproducible
case); ``real`` (the default) leaves the clock alone, as on a desk.
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import PIPE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = {
    "replay": ["l2", "replay"],
    "dry-run": ["l2", "dry-run"],
    "live": ["l2", "live", "--allow-network", "--yes"],
    "record": ["l2", "record", "--allow-network", "--yes"],
}
FIXED_EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00


def aiops(*argv: str) -> list[str]:
    return [sys.executable, "-m", "aiops", *argv]


@contextmanager
def live_server(config: Path) -> Iterator[dict[str, str]]:
    """A loopback Responses/Chat Completions server and the variables pointing at it."""
    from aiops.resources import default_config_dir
    from tests.support.loopback import LoopbackServer
    from tests.support.registry_edit import FAST_POLICY, set_keys
    from tests.support.scripts import happy_path

    shutil.copytree(default_config_dir(), config)
    set_keys(config, "fallback_policy", **FAST_POLICY)
    # Every live run of a trial searches (5 per run): the shipped 20 an hour would refuse
    # all but four of them before sending, leaving the live path mostly unexercised.
    scope = config / "capability_scopes" / "L2_market_outlook.toml"
    scope.write_text(
        scope.read_text().replace("rate_limit_per_hour = 20", "rate_limit_per_hour = 100000")
    )
    server = LoopbackServer()
    happy_path(server)
    try:
        yield {
            "AIOPS_CONFIG_DIR": str(config),
            # The runs' spend and rate-limit state stays beside the temporary config, not
            # in the operator's state directory (each trial then has its own: trial()).
            "XDG_STATE_HOME": str(config.parent / "state"),
            "OPENAI_BASE_URL": server.base_url,
            "DEEPSEEK_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test-key-" + secrets.token_hex(8),
            "DEEPSEEK_API_KEY": "test-key-" + secrets.token_hex(8),
        }
    finally:
        server.close()


def trial(
    work: Path, runs: int, modes: list[str], env: dict[str, str]
) -> tuple[bool, collections.Counter[str], str]:
    """One trial: returns (verified, exit codes per mode, verify-pack's last line)."""
    ledger = work / "evidence_packs"
    # Each trial is a desk of its own: its rate limits, search window and daily budget
    # (50 trials of live runs would otherwise exhaust one day's budget).
    env = {
        **env,
        "AIOPS_RATELIMIT_DIR": str(work / "ratelimit"),
        "XDG_STATE_HOME": str(work / "state"),
    }
    for _ in range(2):
        done = subprocess.run(
            aiops("l2", "dry-run"), cwd=work, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"seeding the ledger failed: {done.stderr.strip()}")
    seeds = sorted(p for p in ledger.iterdir() if not p.name.startswith("."))
    commands = []
    for n in range(runs):
        mode = modes[n % len(modes)]
        extra = ["--fixture", f"recorded-{n}.json"] if mode == "record" else []
        commands.append((mode, aiops(*MODES[mode], *extra)))
    commands += [
        ("review", aiops("review", str(seed), "--approve", "--notes", "ok", "--reviewer", "bench"))
        for seed in seeds
    ]
    children = [
        (mode, subprocess.Popen(argv, cwd=work, env=env, stdout=PIPE, stderr=PIPE, text=True))
        for mode, argv in commands
    ]
    codes: collections.Counter[str] = collections.Counter()
    for mode, child in children:
        _, err = child.communicate(timeout=600)
        key = f"{mode}:{child.returncode}"
        codes[key] += 1
        if child.returncode != 0 and key not in SAID:
            SAID[key] = err.strip().splitlines()[-1] if err.strip() else ""
    check = subprocess.run(
        aiops("verify-pack", str(ledger)), cwd=work, env=env, capture_output=True, text=True
    )
    lines = (check.stdout + check.stderr).strip().splitlines()
    return check.returncode == 0, codes, lines[-1] if lines else ""


SAID: dict[str, str] = {}  # the first error line of each mode and exit code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--modes", default="replay,dry-run,live")
    parser.add_argument("--clock", choices=["real", "fixed"], default="real")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        parser.error(f"--modes takes {', '.join(MODES)}")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIOPS_", "OPENAI_"))}
    base.pop("SOURCE_DATE_EPOCH", None)
    if args.clock == "fixed":
        base["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    with tempfile.TemporaryDirectory(prefix="aiops-concurrency-") as tmp:
        networked = "live" in modes or "record" in modes
    with live_server(Path(tmp) / "config") if networked else _nothing() as extra:
        env = {**base, **extra}
        unverified = 0
        codes: collections.Counter[str] = collections.Counter()
        started = time.monotonic()
        for number in range(1, args.trials + 1):
            work = Path(tmp) / f"trial-{number}"
            work.mkdir()
            ok, trial_codes, last = trial(work, args.runs, modes, env)
            codes.update(trial_codes)
            if not ok:
                unverified += 1
                print(f"trial {number}: NOT VERIFIED: {last}", flush=True)
            shutil.rmtree(work)
        elapsed = time.monotonic() - started
    print(
        f"{args.trials} trials x {args.runs} concurrent runs ({','.join(modes)}, "
        f"{args.clock} clock) + 2 reviews each, {elapsed:.0f} s"
    )
    for key in sorted(codes):
        mode, code = key.split(":")
        print(f"  exit {code:>3}  {mode:<8} {codes[key]:>5}  {SAID.get(key, '')}"[:160])
    print(f"unverifiable ledgers: {unverified} of {args.trials}")
    sys.exit(1 if unverified else 0)


@contextmanager
def _nothing() -> Iterator[dict[str, str]]:
    yield {}


if __name__ == "__main__":
    main()
