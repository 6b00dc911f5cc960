"""Start-up budget: ``aiops --help`` and ``aiops l2 dry-run`` over a bare Typer app's
``--help``, measured in the same run. Target for ``--help``: <= 1.3."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import aiops_argv, bare_typer_help, time_command  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    base = bare_typer_help(runs)
    help_time = time_command(aiops_argv("--help"), runs)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SOURCE_DATE_EPOCH": "1768046400", "AIOPS_PACKS_DIR": str(Path(tmp) / "packs")}
        dry = time_command(aiops_argv("l2", "dry-run"), runs, env=env)
    print(f"bare typer --help      {base * 1000:8.1f} ms   1.00x")
    ratio = help_time / base
    print(f"aiops --help           {help_time * 1000:8.1f} ms   {ratio:.2f}x  (target <= 1.30)")
    print(f"aiops l2 dry-run       {dry * 1000:8.1f} ms   {dry / base:.2f}x")


if __name__ == "__main__":
    main()
