"""Start-up budget: ``aiops --help`` and ``aiops l2 dry-run`` over a bare Typer app's
``--help``, measured in the same run, interleaved (each round runs each command once;
a ratio is the median of the rounds'). Target for ``--help``: <= 1.3."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import BARE_TYPER_APP, aiops_argv, ratio, time_commands  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_TYPER_APP)
        env = {"SOURCE_DATE_EPOCH": "1768046400", "AIOPS_PACKS_DIR": str(Path(tmp) / "packs")}
        samples = time_commands(
            {
                "bare": [sys.executable, str(bare), "--help"],
                "help": aiops_argv("--help"),
                "dry": aiops_argv("l2", "dry-run"),
            },
            runs,
            env=env,
        )
    ms = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    print(f"bare typer --help      {ms['bare']:8.1f} ms   1.00x")
    help_ratio = ratio(samples, "help", "bare")
    print(f"aiops --help           {ms['help']:8.1f} ms   {help_ratio:.2f}x  (target <= 1.30)")
    print(f"aiops l2 dry-run       {ms['dry']:8.1f} ms   {ratio(samples, 'dry', 'bare'):.2f}x")


if __name__ == "__main__":
    main()
