"""Output streams that cannot take what aiops prints.

A terminal or pipe that is not UTF-8 (a Latin-1 locale, a Windows code page,
``PYTHONIOENCODING=ascii``): the run finishes, the text is spelt in ASCII where it must
be, machine-readable JSON stays UTF-8, and the evidence is the same as ever. A reader
that has gone away (``| head -1``): the command keeps its own exit code."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiops.streams import output_streams_never_fail, print_json, spell_in_ascii


def _aiops(
    args: list[str], cwd: Path, encoding: str, packs: Path
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "AIOPS_PACKS_DIR": str(packs)}
    return subprocess.run(
        [sys.executable, "-m", "aiops", *args], cwd=cwd, env=env, capture_output=True, timeout=120
    )


def _pack_files(ledger: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(ledger)): p.read_bytes() for p in sorted(ledger.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_replay_finishes_on_a_stream_that_is_not_utf8(tmp_path: Path, encoding: str) -> None:
    utf8 = _aiops(["l2", "replay"], tmp_path, "utf-8", tmp_path / "ledger-a")
    other = _aiops(["l2", "replay"], tmp_path, encoding, tmp_path / "ledger-b")
    assert utf8.returncode == 0, utf8.stderr.decode()
    assert other.returncode == 0, other.stderr.decode()
    assert b"Traceback" not in other.stderr
    shown = other.stdout.decode(encoding)
    assert "\u2014" in utf8.stdout.decode("utf-8")  # the summary does use a dash
    # Only the characters the stream cannot encode are respelt; the pack path differs.
    expected = utf8.stdout.decode("utf-8").replace("\u2014", "-").replace("ledger-a", "ledger-b")
    assert shown.replace("\u2014", "-") == expected
    assert _pack_files(tmp_path / "ledger-a") == _pack_files(tmp_path / "ledger-b")


def test_an_error_line_with_a_character_the_stream_cannot_encode(tmp_path: Path) -> None:
    result = _aiops(
        ["l2", "replay", "--fixture", "missing-\u00e9\u2014.json"],
        tmp_path,
        "ascii",
        tmp_path / "p",
    )
    assert result.returncode == 2
    assert result.stderr.decode("ascii").splitlines() == [
        "aiops: error: replay fixture missing-?-.json not found"
    ]


def test_ascii_spelling_of_our_symbols_and_question_marks_for_the_rest() -> None:
    import codecs

    output_streams_never_fail()  # registers the error handler
    handler = codecs.lookup_error("aiops-ascii-spelling")
    assert handler is not None
    text = "a \u2014 b \u2260 c \u2264 d \u2026 caf\u00e9 \u4e2d"
    assert text.encode("ascii", errors="aiops-ascii-spelling") == b"a - b != c <= d ... caf? ?"
    with pytest.raises(UnicodeDecodeError):
        spell_in_ascii(UnicodeDecodeError("ascii", b"\xff", 0, 1, "bad"))


def test_json_output_is_utf8_whatever_the_stream_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    print_json({"reviewer": "Zo\u00eb", "note": "ok \u2014 fine"})
    stream.flush()
    assert json.loads(raw.getvalue().decode("utf-8")) == {
        "reviewer": "Zo\u00eb",
        "note": "ok \u2014 fine",
    }


def _closed_pipe_run(args: list[str], cwd: Path, packs: Path) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout a pipe whose reader is already gone: every write is EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = {**os.environ, "AIOPS_PACKS_DIR": str(packs)}
        return subprocess.run(
            [sys.executable, "-m", "aiops", *args],
            cwd=cwd,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)


def test_a_reader_that_went_away_does_not_change_a_runs_exit_code(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    run = _closed_pipe_run(["l2", "replay"], tmp_path, ledger)
    assert (run.returncode, run.stderr) == (0, b"")
    (pack,) = list(ledger.iterdir())
    assert (pack / "evidence_pack.json").is_file()
    for args in (["verify-pack", str(ledger)], ["verify-pack", str(ledger), "--json"]):
        check = _closed_pipe_run(args, tmp_path, ledger)
        assert (check.returncode, check.stderr) == (0, b""), args


def test_a_failed_verification_still_exits_1_with_the_reader_gone(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    assert _closed_pipe_run(["l2", "replay"], tmp_path, ledger).returncode == 0
    (pack,) = list(ledger.iterdir())
    report = pack / "operator_output.md"
    report.write_bytes(report.read_bytes() + b"tampered\n")
    check = _closed_pipe_run(["verify-pack", str(ledger), "--json"], tmp_path, ledger)
    assert check.returncode == 1
    assert b"Traceback" not in check.stderr


def test_printable_spells_out_what_a_terminal_would_act_on() -> None:
    from aiops.streams import printable

    assert printable("plain — café 中") == "plain — café 中"  # untouched
    assert printable("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert printable("\x1b[2J\x07\x7f\x9b") == "\\x1b[2J\\x07\\x7f\\x9b"
    assert printable("abc\u202edcba\u2028") == "abc\\u202edcba\\u2028"  # bidi, separator
    assert printable("file-\udcff.json") == "file-\\xff.json"  # an undecodable byte


def _to_full_disk(
    args: list[str], cwd: Path, packs: Path, stream: str = "stdout"
) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout (or stderr) on a device that is always full: every write ENOSPC."""
    with open("/dev/full", "wb") as full:
        env = {**os.environ, "AIOPS_PACKS_DIR": str(packs)}
        return subprocess.run(
            [sys.executable, "-m", "aiops", *args],
            cwd=cwd,
            env=env,
            timeout=120,
            stdout=full if stream == "stdout" else subprocess.PIPE,
            stderr=full if stream == "stderr" else subprocess.PIPE,
        )


needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


@needs_dev_full
def test_stdout_on_a_full_disk_is_one_line_and_exit_2_not_a_traceback(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    run = _to_full_disk(["l2", "replay"], tmp_path, ledger)
    (pack,) = list(ledger.iterdir())
    assert (run.returncode, run.stderr.decode()) == (
        2,
        f"aiops: error: cannot write to stdout: {os.strerror(errno.ENOSPC)} "
        f"(the pack {pack} was written)\n",
    )
    for args in (["verify-pack", str(ledger)], ["verify-pack", str(ledger), "--json"]):
        check = _to_full_disk(args, tmp_path, ledger)
        assert (check.returncode, check.stderr.decode()) == (
            2,
            f"aiops: error: cannot write to stdout: {os.strerror(errno.ENOSPC)}\n",
        ), args  # the report an auditor asked for was not delivered: never exit 0


@needs_dev_full
def test_stderr_on_a_full_disk_does_not_change_the_exit_code(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    refused = _to_full_disk(["verify-pack", "missing"], tmp_path, ledger, "stderr")
    assert refused.returncode == 2  # usage, as ever; not 1 ("not verified") nor 120
    run = _to_full_disk(["l2", "replay"], tmp_path, ledger, "stderr")
    assert run.returncode == 0 and b"COMPLETED" in run.stdout


def test_a_name_that_is_not_utf8_on_a_strict_utf8_stream(tmp_path: Path) -> None:
    """A UTF-8 locale gives Python a strict stdout, which cannot encode the undecodable
    bytes of a file name: the summary and the ledger table spell them \\xNN."""
    ledger = tmp_path / "ledger"  # not the configured ledger: a name of one's own is fine
    name = os.fsdecode(b"pack-\xff")
    run = _aiops(["l2", "replay", "--out", str(ledger / name)], tmp_path, "utf-8", tmp_path / "p")
    assert run.returncode == 0, run.stderr.decode()
    assert f"Artifacts in {ledger}/pack-\\xff".encode() in run.stdout
    check = _aiops(["verify-pack", str(ledger)], tmp_path, "utf-8", ledger)
    assert check.returncode == 0, check.stderr.decode()
    assert b"\xe2\x94\x82 pack-\\xff " in check.stdout  # "│ pack-\xff ", in its column


def _with_closed(fd: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run with one standard descriptor closed by the parent (``<&-``, ``2>&-``)."""
    return subprocess.run(
        [sys.executable, "-m", "aiops", *args],
        cwd=cwd,
        stdin=None if fd == 0 else subprocess.DEVNULL,
        stdout=None if fd == 1 else subprocess.PIPE,
        stderr=None if fd == 2 else subprocess.PIPE,
        preexec_fn=lambda: os.close(fd),
        timeout=120,
    )


def test_a_closed_stdin_is_no_terminal_not_a_traceback(tmp_path: Path) -> None:
    made = _aiops(["l2", "replay", "--out", "pack"], tmp_path, "utf-8", tmp_path / "packs")
    assert made.returncode == 0
    review = _with_closed(0, ["review", "pack"], tmp_path)
    assert (review.returncode, review.stderr) == (
        2,
        b"aiops: error: no terminal to ask on: pass --approve or --reject (and --notes)\n",
    )


def test_an_error_line_never_lands_on_stdout_when_stderr_is_closed(tmp_path: Path) -> None:
    result = _with_closed(2, ["verify-pack", "missing", "--json"], tmp_path)
    assert (result.returncode, result.stdout) == (2, b"")  # the JSON stream stays clean
