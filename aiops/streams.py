"""The process's output streams: what aiops does when they cannot take what it prints.

- A stream that is not UTF-8 (a Latin-1 locale, a Windows code page,
  ``PYTHONIOENCODING=ascii``) gets the characters it cannot encode spelt in ASCII,
  instead of a ``UnicodeEncodeError`` after the run has done its work. A strict UTF-8
  stream (a UTF-8 locale, ``PYTHONIOENCODING=utf-8``) cannot encode the undecodable
  bytes of a file name either: they are spelt ``\\xff``.
- A reader that goes away (``aiops l2 replay | head -1``) is not an error of the run:
  the rest of the output is discarded and the command ends with its own exit code, so
  a closed pipe never turns a completed run into "rejected" or a verified ledger into
  "not verified".
- stdout that cannot take the output (redirected to a file on a full disk) is an
  error: the output the command was asked for was not delivered, so it ends with one
  line and exit 2 (``OutputWriteError``) instead of a traceback. stderr that cannot
  take a line is dropped: the exit code still says what happened.
- A standard stream the parent closed (``<&-``, ``2>&-``, some supervisors) is opened
  on the null device: stdin reads as empty (no terminal to ask on), output goes nowhere.
  Python would leave it ``None`` — ``sys.stdin.isatty()`` a traceback, an error line
  printed with ``file=sys.stderr`` landing on stdout — and its descriptor free for the
  next file aiops opens.
- ``--json`` output is UTF-8 bytes whatever the terminal's encoding: JSON exchanged
  between programs is UTF-8, so nothing is spelt differently.
- Text that comes from outside (a path, a file name, a model's answer) never drives the
  terminal: characters a terminal acts on instead of showing — line breaks in an error
  line, escape sequences anywhere — are spelt as visible escapes (``printable``).

Standard library only: the CLI calls this before anything else loads.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from typing import Any

# What aiops's own text uses beyond ASCII, spelt in ASCII for a stream that cannot
# encode it (anything else, model text for instance, becomes "?").
_ASCII_SPELLING = {
    "\u2014": "-",  # em dash
    "\u2013": "-",  # en dash
    "\u00b7": "-",  # middle dot
    "\u00a7": "S",  # section sign
    "\u2026": "...",
    "\u2260": "!=",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2192": "->",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
}
ASCII_SPELLING_ERRORS = "aiops-ascii-spelling"


def spell_in_ascii(error: UnicodeError) -> tuple[str, int]:
    """Encoding error handler: the unencodable run of text, spelt in ASCII."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(_ascii_spelling(char) for char in text), error.end


def _ascii_spelling(char: str) -> str:
    if 0xDC80 <= ord(char) <= 0xDCFF:  # an undecodable byte of a name: the byte
        return visible_escape(char)
    return _ASCII_SPELLING.get(char, "?")


# Characters a terminal acts on instead of showing: C0 controls but tab and newline
# (ESC starts the sequences that move the cursor, clear lines, retitle windows), DEL,
# and C1 controls (0x9b is an 8-bit ESC [ for some terminals).
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible_escape(char: str) -> str:
    """One character spelt as its escape: ``\\n``, ``\\x1b``, ``\\u2028``; an
    undecodable byte of a file name (a surrogate escape) as the byte, ``\\xff``."""
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` as one line that cannot drive a terminal: every character Python does
    not call printable (controls, line and paragraph separators, bidirectional
    overrides, undecodable bytes) spelt as its escape. For error lines."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else visible_escape(char) for char in text)


_STANDARD_STREAMS = (
    (0, "stdin", os.O_RDONLY, "r"),
    (1, "stdout", os.O_WRONLY, "w"),
    (2, "stderr", os.O_WRONLY, "w"),
)


def closed_streams_on_devnull() -> None:
    """Open each closed standard descriptor on the null device (in order, so each gets
    its own number) and give Python a stream for it."""
    for fd, name, flags, mode in _STANDARD_STREAMS:
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        devnull = os.open(os.devnull, flags)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # lives as long as the process


def output_streams_never_fail() -> None:
    """Give stdout and stderr the ASCII spelling handler when they are not UTF-8, or
    are UTF-8 but strict (which fails on a name's undecodable bytes)."""
    try:
        codecs.lookup_error(ASCII_SPELLING_ERRORS)
    except LookupError:
        codecs.register_error(ASCII_SPELLING_ERRORS, spell_in_ascii)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        strict = getattr(stream, "errors", "strict") == "strict"
        if codecs.lookup(encoding).name.startswith("utf-") and not strict:
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=ASCII_SPELLING_ERRORS)


def discard_stdout() -> None:
    """The reader of stdout has gone: send the rest of the output nowhere, so neither
    later prints nor the interpreter's final flush raise ``BrokenPipeError``."""
    _discard(sys.stdout)


def stdout_failed(error: OSError) -> Exception:
    """stdout refused a write (not a closed pipe): discard the rest, so the interpreter's
    final flush does not fail too, and return the error to raise."""
    from aiops.errors import OutputWriteError

    _discard(sys.stdout)
    return OutputWriteError(f"cannot write to stdout: {error.strerror or error}")


def stderr_failed() -> None:
    """stderr refused a write: there is nowhere left to say anything; discard the rest
    so the exit code, which still says what happened, is not replaced by Python's 120."""
    _discard(sys.stderr)


def _discard(stream: Any) -> None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing to redirect
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def print_json(document: Any) -> None:
    """Machine-readable output: ``pack_json`` bytes, UTF-8 whatever the encoding."""
    from aiops.canonical import pack_json

    data = pack_json(document)
    try:
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
            return
        sys.stdout.flush()
        buffer.write(data)
        buffer.flush()
    except BrokenPipeError:
        discard_stdout()
    except OSError as error:
        raise stdout_failed(error) from None
