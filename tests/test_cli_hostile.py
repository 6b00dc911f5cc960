"""Hostile values and paths: each gives one ``aiops: error:`` line and its documented
exit code, in bounded time and memory, never a traceback.

Every command runs as a real process under a timeout (a hang fails the test instead of
hanging the suite) and an address-space limit (reading ``/dev/zero`` to its end fails
fast instead of exhausting the machine).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiops.canonical import pack_json
from aiops.resources import default_config_dir
from tests.evidence.builders import reindex

TIMEOUT = 60
MEMORY_LIMIT = 2 * 1024**3  # address space of each command: /dev/zero must not fill it
DEAD_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: a request sent would fail (4)

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def aiops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "aiops", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=_limit_memory,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def one_error_line(done: subprocess.CompletedProcess[str], code: int, *phrases: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    # An outcome that is not an error (exit 1: not verified, KPIs not met) is no "error:".
    prefix = "aiops: " if code == 1 else "aiops: error: "
    errors = [line for line in lines if line.startswith(prefix)]
    assert len(errors) == 1, done.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "a-fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A ledger of one replayed model-run pack (it verifies)."""
    assert aiops("l2", "replay").returncode == 0
    return tmp_path / "evidence_packs"


def _only(ledger: Path) -> Path:
    (pack,) = ledger.iterdir()
    return pack


# --- pilot report, drift and review on packs verify-pack judges ---------------------------


def _set(doc: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        doc = doc[int(part)] if part.isdigit() else doc[part]
    doc[int(last) if last.isdigit() else last] = value


def _forge(pack: Path, dotted: str, raw: str, *, drop_cost: bool = False) -> None:
    """Put the raw JSON text ``raw`` at ``dotted`` in proposer_output.json and re-record
    its digest: only the value changes."""
    path = pack / "proposer_output.json"
    doc = json.loads(path.read_bytes())
    if drop_cost:
        doc["cost_usd"] = None  # the cost is then priced from usage
    _set(doc, dotted, "PLACEHOLDER")
    path.write_bytes(pack_json(doc).replace(b'"PLACEHOLDER"', raw.encode()))
    reindex(pack, "proposer_output.json")


HUGE = "9" * 4000


@pytest.mark.parametrize(
    ("field", "raw", "drop_cost"),
    [
        ("latency_ms", HUGE, False),
        ("cost_usd", HUGE, False),
        ("usage.input_tokens", HUGE, True),
    ],
)
def test_a_4000_digit_figure_fails_verification_and_the_pilot_report_says_so(
    ledger: Path, field: str, raw: str, drop_cost: bool
) -> None:
    pack = _only(ledger)
    _forge(pack, field, raw, drop_cost=drop_cost)
    verified = aiops("verify-pack", str(ledger), "--json")
    one_error_line(verified, 1, "NOT VERIFIED")
    assert "outside +-9007199254740991" in verified.stdout  # the finding names the bound
    report = aiops("pilot", "report", *NOT_LIVE, str(ledger), "--json")
    one_error_line(report, 1, "pilot KPIs not met", "Evidence-pack completeness")
    completeness = next(k for k in json.loads(report.stdout)["kpis"] if k["key"] == "completeness")
    assert completeness["failing_packs"] == [
        json.loads((pack / "evidence_pack.json").read_bytes())["evidence_pack_id"]
    ]
    drift = aiops("pilot", "drift", str(pack), str(pack))
    one_error_line(drift, 2, "no readable proposer output")
    review = aiops("review", str(pack), "--approve", "--notes", "n", "--reviewer", "r")
    assert review.returncode == 0, review.stderr
    assert "outside +-9007199254740991" in review.stderr  # shown as a verify-pack warning


def test_a_list_where_a_model_id_belongs_does_not_crash_the_pilot_report(ledger: Path) -> None:
    pack = _only(ledger)
    _forge(pack, "attempts.0.model_id", '["gpt-5.2-pro"]')
    report = aiops("pilot", "report", *NOT_LIVE, str(ledger), "--json")
    # Whatever verify-pack says of this pack, the report is made and says the same.
    verified = aiops("verify-pack", str(ledger)).returncode
    one_error_line(report, 1, "pilot KPIs not met")
    completeness = next(k for k in json.loads(report.stdout)["kpis"] if k["key"] == "completeness")
    assert (completeness["status"] == "PASS") == (verified == 0)
    assert json.loads(report.stdout)["fallback_packs"] == 0  # a list names no model
    drift = aiops("pilot", "drift", str(pack), str(pack), "--json")
    if verified == 0:  # the proposer output is one drift can use
        assert drift.returncode == 0, drift.stderr
        assert json.loads(drift.stdout)["token_drift_pct"] == 0.0
    else:  # a schema refused it: so does drift, in one line
        one_error_line(drift, 2, "no readable proposer output")


# --- configuration ------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(default_config_dir(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("name", "old"),
    [
        ("model_registry.toml", "context_window = 400000"),
        ("capability_scopes/L2_market_outlook.toml", "min_scenario_count = 2"),
    ],
)
def test_a_toml_integer_of_more_than_4300_digits_is_one_line(
    config: Path, name: str, old: str
) -> None:
    _edit(config / name, old, old.split("=")[0] + "= " + "9" * 4400)
    done = aiops("--config-dir", str(config), "l2", "dry-run")
    one_error_line(done, 2, f"invalid config {config / name}", "4300 digits")


@pytest.mark.parametrize("value", ["9" * 4000, "9007199254740992"])
def test_a_toml_integer_beyond_2_53_is_refused_with_its_key(config: Path, value: str) -> None:
    _edit(config / "model_registry.toml", "context_window = 400000", f"context_window = {value}")
    done = aiops("--config-dir", str(config), "l2", "dry-run")
    one_error_line(done, 2, "models.gpt-5.2-pro.context_window", "outside +-9007199254740991")


@pytest.mark.parametrize("value", ["inf", "1e308", "nan", "86401"])
def test_an_unbounded_run_deadline_is_refused_at_config_load(config: Path, value: str) -> None:
    _edit(
        config / "model_registry.toml",
        "run_deadline_seconds = 3600.0",
        f"run_deadline_seconds = {value}",
    )
    dry = aiops("--config-dir", str(config), "l2", "dry-run")
    one_error_line(dry, 2, "fallback_policy.run_deadline_seconds")
    live = aiops(
        "--config-dir", str(config), "l2", "live", "--allow-network", "--yes", env=_live_env()
    )
    one_error_line(live, 2, "fallback_policy.run_deadline_seconds")
    assert not Path("logs/ai_model_calls.jsonl").exists()  # nothing was sent


def test_a_configuration_file_that_is_a_fifo_is_refused(config: Path) -> None:
    os.mkfifo(config / "capability_scopes" / "L9_extra.toml")
    done = aiops("--config-dir", str(config), "l2", "dry-run")
    one_error_line(done, 2, "L9_extra.toml", "is a FIFO, not a regular file")


# --- URLs ---------------------------------------------------------------------------------


def _live_env(**extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "test-not-a-real-key",
        "DEEPSEEK_API_KEY": "test-not-a-real-key",
        "OPENAI_BASE_URL": DEAD_BASE_URL,
        "DEEPSEEK_BASE_URL": DEAD_BASE_URL,
        **extra,
    }


@pytest.mark.parametrize(
    ("variables", "phrase"),
    [
        ({"OPENAI_BASE_URL": "http://[zz:1"}, "OPENAI_BASE_URL) is not a usable URL"),
        ({"DEEPSEEK_BASE_URL": "http://host:99999/v1"}, "DEEPSEEK_BASE_URL) is not a usable"),
        ({"OPENAI_BASE_URL": "http://xn--a.com/v1"}, "OPENAI_BASE_URL) is not a usable URL"),
        ({"HTTP_PROXY": "http://[zz:1", "HTTPS_PROXY": "http://[zz:1"}, "not a usable proxy"),
        ({"HTTPS_PROXY": "[::1"}, "HTTPS_PROXY is not a usable proxy URL"),
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_before_sending(
    variables: dict[str, str], phrase: str
) -> None:
    done = aiops("l2", "live", "--allow-network", "--yes", env=_live_env(**variables))
    line = one_error_line(done, 2, phrase, "nothing was sent")
    assert "zz:1" not in line  # the URL itself is not echoed (it may carry a token)
    assert not Path("logs/ai_model_calls.jsonl").exists()


# --- files given as arguments or through variables ------------------------------------------


def _device(tmp_path: Path) -> Path:
    path = tmp_path / "a-device"
    try:
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))  # a character device (null)
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs privileges")
    return path


Target = Callable[[Path], Path]
KINDS: dict[str, tuple[Target, str]] = {
    "dev-zero": (lambda tmp: Path("/dev/zero"), "is a device, not a regular file"),
    "fifo": (lambda tmp: _mkfifo(tmp), "is a FIFO, not a regular file"),
    "directory": (lambda tmp: tmp, "is a directory, not a regular file"),
}


def _mkfifo(tmp_path: Path) -> Path:
    path = tmp_path / "a-fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_key_and_checkpoint_files_must_be_regular(ledger: Path, tmp_path: Path, kind: str) -> None:
    make, phrase = KINDS[kind]
    target = make(tmp_path)
    one_error_line(aiops("verify-pack", str(ledger), "--key", str(target)), 2, "public key", phrase)
    one_error_line(
        aiops("verify-pack", str(ledger), "--checkpoint", str(target)), 2, "checkpoint", phrase
    )
    dry = aiops("l2", "dry-run", env={"AIOPS_SIGNING_KEY": str(target)})
    one_error_line(dry, 2, "signing key", phrase)
    replay = aiops("l2", "replay", "--fixture", str(target))
    one_error_line(replay, 2, "replay fixture", phrase)


def test_a_key_file_over_the_bound_is_refused_unread(ledger: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(10 * 1024**3)  # sparse: 10 GiB that cost nothing
    done = aiops("verify-pack", str(ledger), "--key", str(big))
    one_error_line(done, 2, "public key", "is larger than 65536 bytes")


@pytest.mark.parametrize("kind", ["fifo", "device", "symlink", "directory"])
def test_write_checkpoint_replaces_only_a_regular_file(
    ledger: Path, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "checkpoint"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        target = _device(tmp_path)
    elif kind == "symlink":
        (tmp_path / "real.json").write_text("kept\n")
        target.symlink_to(tmp_path / "real.json")
    else:
        target.mkdir()
    before = os.lstat(target)
    done = aiops("verify-pack", str(ledger), "--write-checkpoint", str(target))
    one_error_line(done, 2, "cannot write checkpoint", "only a regular file is replaced")
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    if kind == "symlink":
        assert (tmp_path / "real.json").read_text() == "kept\n"


def test_write_checkpoint_still_replaces_a_regular_file(ledger: Path, tmp_path: Path) -> None:
    target = tmp_path / "ledger.ckpt"
    target.write_text("an older checkpoint\n")
    assert aiops("verify-pack", str(ledger), "--write-checkpoint", str(target)).returncode == 0
    assert json.loads(target.read_text())["ledger_size"] == 1
    assert aiops("verify-pack", str(ledger), "--checkpoint", str(target)).returncode == 0


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_other_files_written_by_rename_replace_only_a_regular_file(
    ledger: Path, tmp_path: Path, kind: str
) -> None:
    """The pilot report's ``--html`` page and ``record --fixture --force`` are written
    the way a checkpoint is: by renaming over the path."""
    target = tmp_path / f"target-{kind}"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "real").write_text("kept\n")
        target.symlink_to(tmp_path / "real")
    before = os.lstat(target)
    html = aiops("pilot", "report", *NOT_LIVE, str(ledger), "--html", str(target))
    one_error_line(html, 2, f"cannot write {target}", "only a regular file is replaced")
    record = aiops(
        "l2",
        "record",
        "--allow-network",
        "--yes",
        "--fixture",
        str(target),
        "--force",
        env=_live_env(),
    )
    one_error_line(record, 2, f"--fixture {target}", "only a regular file is replaced")
    assert not Path("logs/ai_model_calls.jsonl").exists()  # refused before sending
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_spend_ledger_that_is_not_a_regular_file_refuses_the_run(
    config: Path, tmp_path: Path, kind: str
) -> None:
    """The spend ledger's path comes from the registry: a FIFO there hung the budget
    check, ``/dev/zero`` read without end."""
    target = _mkfifo(tmp_path) if kind == "fifo" else Path("/dev/zero")
    _edit(
        config / "model_registry.toml",
        'spend_ledger = "logs/spend_ledger.jsonl"',
        f'spend_ledger = "{target}"',
    )
    done = aiops(
        "--config-dir", str(config), "l2", "live", "--allow-network", "--yes", env=_live_env()
    )
    one_error_line(done, 2, f"spend ledger {target}: not a regular file")
    assert not Path("logs/ai_model_calls.jsonl").exists()  # refused before sending


@pytest.mark.parametrize(("depth", "within"), [(128, True), (129, False), (990, False)])
def test_every_reader_draws_the_nesting_line_at_the_same_depth(
    ledger: Path, depth: int, within: bool
) -> None:
    """Deep nesting used to be judged by each reader's own recursion limit, so a pack
    could verify and be unreadable to drift, or the other way round."""
    pack = _only(ledger)
    # The file nests `depth` deep: its object, parsed, outputs, outputs[0], then lists.
    _forge(pack, "parsed.outputs.0.x", "[" * (depth - 4) + "]" * (depth - 4))
    verified = aiops("verify-pack", str(ledger), "--json")
    assert verified.returncode in (0, 1), verified.stderr
    assert ("nested too deeply (more than 128 levels)" in verified.stdout) == (not within)
    drift = aiops("pilot", "drift", str(pack), str(pack))
    if not within:
        one_error_line(drift, 2, "no readable proposer output")
    elif verified.returncode == 0:
        assert drift.returncode == 0, drift.stderr
    elif drift.returncode != 0:  # a schema of parsed outputs may refuse the extra key
        one_error_line(drift, 2, "no readable proposer output")
