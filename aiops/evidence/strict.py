"""Strict, bounded reading of a pack's files.

Nothing here trusts the pack: JSON must be plain UTF-8 without a byte-order mark,
duplicate keys (compared after decoding, so ``"\\u0061"`` equals ``"a"``), NaN and
Infinity, a number beyond a double's range (``1e999``, which Python's ``json`` would
read as infinity), or a lone surrogate escape (``"\\ud800"``: not text, and aiops never
writes one); names must be plain file names; files are opened relative to the pack
directory's descriptor, never following a link and never blocking, checked to be
regular, compared with their recorded size before a byte is hashed, hashed in a stream,
and re-checked afterwards so a change while hashing is reported.

Numbers are bounded here (by ``aiops.bounds``) for every strict reader (packs, sidecars,
checkpoints, model answers, fixtures) and for the configuration files: an integer must
lie within ``MAX_SAFE_INTEGER`` of zero (what every JSON parser reads exactly, as
I-JSON, RFC 7493, asks) and a number with a fraction or exponent must be finite (JSON's
``1e400`` would otherwise read as infinity). ``read_regular_file`` is the one way a file
named on the command line or in a variable (a key, a checkpoint, a fixture, an input,
a configuration file) is read: only a regular file, never blocking, with a size bound.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiops.bounds import MAX_NESTING, MAX_SAFE_INTEGER
from aiops.streams import printable

FileStatus = Literal["OK", "MISMATCH", "MISSING", "EXTRA", "NOT_REGULAR", "TOO_LARGE", "BAD_NAME"]

# Bounds that keep a hostile pack from hanging or exhausting the verifier.
MAX_PACK_ENTRIES = 64  # a pack holds at most 10 known names; anything near this is hostile
MAX_LEDGER_ENTRIES = 1_000_000
MAX_INDEX_BYTES = 8 * 1024 * 1024  # evidence_pack.json
MAX_JSON_BYTES = 64 * 1024 * 1024  # any other JSON file: it is parsed in memory
MAX_SIDECAR_BYTES = 1024 * 1024  # evidence_pack.dsse.json, review.json
MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024  # a file that is only hashed (operator_output.md)
CHUNK = 256 * 1024  # as hashlib.file_digest: the buffer stays in cache while hashed

_OPEN_FLAGS = (
    os.O_RDONLY
    | os.O_NOFOLLOW
    | os.O_NONBLOCK
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
# Opening a directory given by the user (a pack, a ledger): a link to it is followed.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_BOM = b"\xef\xbb\xbf"
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A control character (U+0000-U+001F, U+007F) or a surrogate (an undecodable byte of a
# file name, as ``os.listdir`` hands it over): never in a pack file's name.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# A \u escape of a UTF-16 surrogate; only then can a parsed string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJSONError(ValueError):
    """The bytes are not strict JSON; the message says why."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # built in C; a key seen twice leaves it shorter than the pairs
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    # Cheap first: more digits than 2**53 has can never be in range (and converting a
    # string of thousands of digits is quadratic).
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        shown = text if len(text) <= 24 else f"of {len(text.lstrip('-'))} digits"
        raise StrictJSONError(f"integer {shown} is outside +-{MAX_SAFE_INTEGER} (2**53 - 1)")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else f"of {len(text)} characters"
        raise StrictJSONError(f"number {shown} is out of range (not a finite double)")
    return value


def number_problem(value: object) -> str | None:
    """Why ``value`` (from a parsed TOML file, say) is not a number aiops accepts, or
    ``None``: the same rule as the strict JSON reader's."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return (
            f"an integer of {value.bit_length()} bits is outside +-{MAX_SAFE_INTEGER} (2**53 - 1)"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_constant=_no_constant,
    parse_int=_bounded_int,
    parse_float=_finite_float,
)


def loads_strict(data: bytes) -> Any:
    """Parse JSON bytes strictly; raise ``StrictJSONError`` naming the problem."""
    if data.startswith(_BOM):
        raise StrictJSONError("starts with a byte-order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        value = _DECODER.decode(text)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError(f"nested too deeply (more than {MAX_NESTING} levels)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise StrictJSONError(str(exc).splitlines()[0]) from None
    # Only a text with that many brackets can nest that deep: small files skip the walk.
    if data.count(b"[") + data.count(b"{") > MAX_NESTING and _depth(value) > MAX_NESTING:
        raise StrictJSONError(f"nested too deeply (more than {MAX_NESTING} levels)")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise StrictJSONError("a string holds a lone surrogate escape: not Unicode text")
    return value


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in ``value`` cannot be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def is_sha256_hex(value: object) -> bool:
    """Whether ``value`` is a SHA-256 digest as aiops records it: 64 lower-case hex
    digits and nothing else (not even a final newline)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def name_key(name: str) -> str:
    """Two names that are equal under this key are the same name to a person."""
    return unicodedata.normalize("NFC", name).casefold()


def bad_name(name: str) -> str | None:
    """Why ``name`` can never be a pack file's name, or ``None`` when it is well formed."""
    if not name or name in (".", ".."):
        return "empty or a directory reference"
    if name.startswith("/") or "/" in name or "\\" in name:
        return "contains a path separator"
    if ".." in name:
        return "contains '..'"
    if _CONTROL_OR_SURROGATE.search(name):
        return "contains a control character or undecodable byte"
    return None


def display_name(name: str) -> str:
    """A file name safe to print: control characters and undecodable bytes (as
    ``os.listdir`` hands them over) escaped, as in every line aiops prints."""
    return printable(name)


@dataclass(frozen=True)
class ReadResult:
    """What reading one member of a pack found. ``status`` is ``None`` when the bytes
    were read whole and unchanged; then ``sha256`` is their digest."""

    status: FileStatus | None
    detail: str = ""
    size: int | None = None
    sha256: str | None = None
    data: bytes | None = None  # the whole file, when asked for
    head: bytes = b""  # the first bytes, for a header check of a file only hashed


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _fingerprint(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_member(
    dir_fd: int,
    name: str,
    *,
    max_bytes: int,
    expected_size: int | None = None,
    keep: bool = False,
    head_bytes: int = 0,
) -> ReadResult:
    """Read ``name`` inside the directory ``dir_fd`` without trusting it.

    Order matters: the entry is examined with ``lstat`` (a FIFO or device is never
    opened), the size bound and the recorded size are checked before hashing, the
    open refuses links and never blocks, and ``fstat`` before and after hashing must
    agree with each other and with the bytes read.
    """
    try:
        first = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return ReadResult("MISSING", "not present")
    except OSError as exc:
        return ReadResult("MISSING", f"cannot be examined: {exc.strerror}")
    if not stat.S_ISREG(first.st_mode):
        return ReadResult("NOT_REGULAR", f"is {_kind(first.st_mode)}")
    size_problem = _size_problem(first.st_size, max_bytes, expected_size)
    if size_problem is not None:
        return size_problem
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return ReadResult("MISSING", "disappeared during verification")
    except OSError as exc:
        return ReadResult("NOT_REGULAR", f"cannot be opened safely: {exc.strerror}")
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return ReadResult("NOT_REGULAR", f"is {_kind(before.st_mode)}")
        if (before.st_dev, before.st_ino) != (first.st_dev, first.st_ino):
            return ReadResult("MISMATCH", "replaced during verification")
        size_problem = _size_problem(before.st_size, max_bytes, expected_size)
        if size_problem is not None:
            return size_problem
        digest, total, data, head = _hash_stream(fd, before.st_size, keep, head_bytes)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if total != before.st_size or _fingerprint(after) != _fingerprint(before):
        return ReadResult("MISMATCH", "changed while being hashed", size=total)
    return ReadResult(None, size=total, sha256=digest, data=data, head=head)


def read_file_in(directory: str | os.PathLike[str], name: str, *, max_bytes: int) -> ReadResult:
    """``read_member`` (kept whole) for one file of ``directory``, for readers outside
    verify-pack: the same refusal of links, special files and oversized files."""
    try:
        dir_fd = os.open(directory, DIR_FLAGS)
    except FileNotFoundError:
        return ReadResult("MISSING", "not present")
    except OSError as exc:
        return ReadResult("MISSING", f"cannot be opened: {exc.strerror}")
    try:
        return read_member(dir_fd, name, max_bytes=max_bytes, keep=True)
    finally:
        os.close(dir_fd)


def _size_problem(size: int, max_bytes: int, expected: int | None) -> ReadResult | None:
    if size > max_bytes:
        return ReadResult("TOO_LARGE", f"{size} bytes, limit {max_bytes}", size=size)
    if expected is not None and size != expected:
        return ReadResult("MISMATCH", f"size {size}, recorded {expected}", size=size)
    return None


def _hash_stream(
    fd: int, size: int, keep: bool, head_bytes: int
) -> tuple[str, int, bytes | None, bytes]:
    """Hash the open file in chunks, reading at most one byte past ``size`` so that a
    file growing under us is noticed without reading it to its new end."""
    hasher = hashlib.sha256()
    limit = size + 1
    buffer = bytearray(min(CHUNK, limit))
    view = memoryview(buffer)
    parts: list[bytes] = []
    head = b""
    total = 0
    while total < limit:
        count = os.readv(fd, [view[: min(len(buffer), limit - total)]])
        if not count:
            break
        chunk = view[:count]
        hasher.update(chunk)
        if keep:
            parts.append(bytes(chunk))
        if len(head) < head_bytes:
            head += bytes(chunk[: head_bytes - len(head)])
        total += count
    return hasher.hexdigest(), total, (b"".join(parts) if keep else None), head


# --- files named on the command line or in a variable ------------------------------------

_ARGUMENT_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
)


class FileRefusedError(Exception):
    """A file named by the user cannot be read as one; the message says why (without
    the path, which the caller names). ``missing`` when there is nothing at the path."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


def read_regular_file(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path`` (a link to one is followed), at most
    ``max_bytes`` of them. A FIFO, device, socket or directory is refused before it is
    opened (so reading never blocks and a device is never read); the open never blocks
    and ``fstat`` must show the same regular file; a file over the bound is refused
    without reading it whole."""
    try:
        first = os.stat(path)
    except FileNotFoundError as exc:
        raise FileRefusedError(_reason(exc), missing=True) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise FileRefusedError(_reason(exc)) from None
    if not stat.S_ISREG(first.st_mode):
        raise FileRefusedError(f"is {_kind(first.st_mode)}, not a regular file")
    if first.st_size > max_bytes:
        raise FileRefusedError(f"is larger than {max_bytes} bytes")
    try:
        fd = os.open(path, _ARGUMENT_FLAGS)
    except OSError as exc:
        raise FileRefusedError(_reason(exc)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            first.st_dev,
            first.st_ino,
        ):
            raise FileRefusedError("was replaced while being opened")
        parts: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileRefusedError(_reason(exc)) from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise FileRefusedError(f"is larger than {max_bytes} bytes")
    return b"".join(parts)


def refuse_unless_replaceable(path: Path) -> None:
    """Raise ``FileRefusedError`` unless ``path`` is absent or a regular file: a file
    written by renaming over ``path`` must never silently replace a FIFO, a device, a
    directory or a symbolic link (whose target the user may have meant)."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise FileRefusedError(_reason(exc)) from None
    if not stat.S_ISREG(found.st_mode):
        raise FileRefusedError(f"is {_kind(found.st_mode)}; only a regular file is replaced")


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "not a usable file name"


def read_text_file(path: Path, *, max_bytes: int, what: str) -> tuple[bytes, str]:
    """``read_regular_file`` for a UTF-8 text file a person named: its bytes and text.
    Refused with one line (``UsageError``, exit 2) naming ``what``, never its content."""
    from aiops.errors import UsageError

    try:
        data = read_regular_file(path, max_bytes=max_bytes)
    except FileRefusedError as exc:
        raise UsageError(f"{what} cannot be read: {exc}") from None
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text") from None
