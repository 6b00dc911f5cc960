"""The ledger: a directory of packs chained by sequence number and hash.

A pack is a non-hidden subdirectory holding ``evidence_pack.json``. Each pack records
its ``sequence`` and the SHA-256 of the previous pack's ``evidence_pack.json``.

Before anything extends the ledger, its head is read and checked (``read_head``): every
entry that is not hidden must be a pack whose index parses, and the newest pack's own
hash links must hold (its files' digests, its link to its predecessor). A ledger that
fails is never extended: the next sequence number could not be known, so it could be
reused. Hidden ``.tmp-*`` entries are what an interrupted command leaves behind while
it stages; those whose process is gone are removed under the ledger's lock
(``remove_stale_staging``).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.clock import isoformat, now
from aiops.errors import EvidenceWriteError, UsageError
from aiops.evidence.names import EVIDENCE_PACK_FILE
from aiops.evidence.strict import (
    MAX_FILE_BYTES,
    MAX_INDEX_BYTES,
    StrictJSONError,
    display_name,
    is_sha256_hex,
    loads_strict,
    read_file_in,
)

# Every hidden entry aiops stages in a ledger is named ``.tmp-<what>-<pid>-<8 hex>``:
# a pack being written (a directory), a review or a checkpoint (a file).
STAGING_PREFIX = ".tmp-"
DEFAULT_PACK_NAME = re.compile(r"L[0-6]_[A-Z0-9_]+_\d{4}-\d{2}-\d{2}_\d{3,}")
_STAGING_NAME = re.compile(r"\.tmp-.+-([0-9]{1,10})-[0-9a-f]{8}", re.DOTALL)


@dataclass(frozen=True)
class ChainLink:
    """Where a new pack goes in the chain, and when it took its place there."""

    sequence: int
    previous_pack_id: str | None
    previous_pack_sha256: str | None
    created: str = ""  # the pack's creation_timestamp, fixed under the ledger's lock


@dataclass(frozen=True)
class Head:
    """The newest pack of a ledger, checked intact."""

    name: str
    sequence: int
    pack_id: str
    sha256: str
    created: datetime
    created_text: str


def pack_dirs(ledger: Path) -> list[Path]:
    """Every pack directory in a ledger, in name order."""
    if not ledger.is_dir():
        return []
    return sorted(
        entry for entry in ledger.iterdir() if not entry.name.startswith(".") and _is_pack(entry)
    )


def _is_pack(entry: Path) -> bool:
    try:
        return entry.is_dir() and not entry.is_symlink() and (entry / EVIDENCE_PACK_FILE).is_file()
    except OSError:  # a directory we may not enter: a pack we cannot read, which whoever
        return True  # reads it reports (verify-pack: not verified), never a traceback


@dataclass(frozen=True)
class _Index:
    name: str
    data: bytes  # the index as read: the head's is parsed again for its links and files
    sha256: str
    sequence: int
    pack_id: str
    created: datetime


# An index's facts by the SHA-256 of its bytes. A run reads its ledger's head up to
# three times (before it sends, before its first paid call, under the lock as it
# writes), each time reading and hashing every pack's index: bytes read before parse
# to the same facts again, so they are not parsed twice. Every read still checks what
# is on disk now; only the parse of bytes already parsed is skipped.
_FACTS: dict[str, tuple[int, str, datetime]] = {}
_MAX_FACTS = 65536

# And an index read earlier in this process, by ledger, pack and the stamp of its file
# (device, inode, size, modification and change times, nanoseconds): an index whose
# stamp is what it was when it was read is the same bytes, since writing a file sets its
# change time, which cannot be set back. Kept only when the stamp did not change while
# the file was read and was then more than ``_RACY_NS`` old (within one tick of a coarse
# clock a later write could leave it as it was), so the newest packs — those a
# concurrent run may have just written — are read again every time, every other pack
# once per run instead of three times.
_SEEN: dict[tuple[str, str], tuple[tuple[int, ...], _Index]] = {}
_RACY_NS = 2_000_000_000


def _damaged(ledger: Path, name: str, why: str) -> EvidenceWriteError:
    return EvidenceWriteError(
        f"the ledger {ledger} is damaged: {display_name(name)!r} {why}; nothing was sent "
        f"or written. Run 'aiops verify-pack {ledger}' and restore the pack from a copy "
        "before running into this ledger again"
    )


def _read_index(ledger: Path, name: str, known: bool) -> _Index | None:
    """One entry of the ledger as a pack index; ``None`` for an entry that cannot be a
    pack (not a directory; in a directory that is not known to be a ledger, one with no
    index); raises for a directory that should be a pack but cannot be read as one."""
    pack = os.path.join(ledger, name)  # strings: a ledger of 10,000 packs is read thrice
    index_file = os.path.join(pack, EVIDENCE_PACK_FILE)
    try:
        info = os.stat(pack, follow_symlinks=False)
    except OSError as exc:
        raise _damaged(ledger, name, f"cannot be examined ({exc.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        return None  # never a pack (verify-pack reports it in a ledger)
    if not known and not os.path.lexists(index_file):
        return None
    key = (os.path.abspath(ledger), name)
    before = _stamp(index_file)
    seen = _SEEN.get(key)
    if seen is not None and before is not None and seen[0] == before:
        return seen[1]
    read = read_file_in(pack, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
    if read.status is not None or read.data is None or read.sha256 is None:
        raise _damaged(ledger, name, f"has no readable {EVIDENCE_PACK_FILE} ({read.detail})")
    facts = _FACTS.get(read.sha256)
    if facts is None:
        facts = _index_facts(ledger, name, _parse_index(ledger, name, read.data))
        if len(_FACTS) >= _MAX_FACTS:
            _FACTS.clear()
        _FACTS[read.sha256] = facts
    sequence, pack_id, created = facts
    index = _Index(name, read.data, read.sha256, sequence, pack_id, created)
    if (
        before is not None
        and _stamp(index_file) == before
        and max(before[3], before[4]) < _now_ns() - _RACY_NS
    ):
        if len(_SEEN) >= _MAX_FACTS:
            _SEEN.clear()
        _SEEN[key] = (before, index)
    return index


def _now_ns() -> int:
    return time.time_ns()


def _stamp(path: str) -> tuple[int, ...] | None:
    """The stamp of a regular file (never following a link), else ``None``."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _parse_index(ledger: Path, name: str, data: bytes) -> Any:
    try:
        return loads_strict(data)
    except StrictJSONError as exc:
        why = f"has an {EVIDENCE_PACK_FILE} that does not parse ({exc})"
        raise _damaged(ledger, name, why) from None


def _index_facts(ledger: Path, name: str, doc: Any) -> tuple[int, str, datetime]:
    sequence = doc.get("sequence") if isinstance(doc, dict) else None
    pack_id = doc.get("evidence_pack_id") if isinstance(doc, dict) else None
    created = _aware_time(doc.get("creation_timestamp")) if isinstance(doc, dict) else None
    if type(sequence) is not int or sequence < 1 or not isinstance(pack_id, str):
        raise _damaged(ledger, name, "has no valid sequence or evidence_pack_id")
    if created is None:
        raise _damaged(ledger, name, "has no valid creation_timestamp")
    return sequence, pack_id, created


def _aware_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def read_head(ledger: Path, *, known: bool = True) -> Head | None:
    """The ledger's newest pack, checked; ``None`` for a ledger with no pack yet.

    Raises ``EvidenceWriteError`` (exit 2) naming the entry when the ledger cannot be
    extended safely: a directory that is not a readable pack, a sequence held twice, or
    a head whose files or link to its predecessor do not match what its index records.
    ``known``: ``ledger`` is the ledger, where every directory is a pack; in any other
    directory (the parent of an ``--out``) only those holding an index are packs."""
    try:
        with os.scandir(ledger) as scan:
            names = sorted(entry.name for entry in scan if not entry.name.startswith("."))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvidenceWriteError(f"cannot read the ledger {ledger}: {exc.strerror}") from None
    indexes = [i for i in (_read_index(ledger, name, known) for name in names) if i is not None]
    if not indexes:
        return None
    top = max(i.sequence for i in indexes)
    newest = [i for i in indexes if i.sequence == top]
    if len(newest) > 1:
        held = " and ".join(repr(display_name(i.name)) for i in newest)
        raise _damaged(ledger, newest[0].name, f"holds sequence {top}, as does {held}")
    head = newest[0]
    doc = _parse_index(ledger, head.name, head.data)  # parsed before: a dict
    _check_files(ledger, head, doc)
    if top > 1:
        before = [i for i in indexes if i.sequence == top - 1]
        if len(before) != 1:
            raise _damaged(ledger, head.name, f"follows sequence {top - 1}, which is not there")
        if (
            doc.get("previous_pack_sha256") != before[0].sha256
            or doc.get("previous_pack_id") != before[0].pack_id
        ):
            raise _damaged(ledger, head.name, f"does not link to {before[0].name!r}")
    text = doc["creation_timestamp"]
    return Head(head.name, head.sequence, head.pack_id, head.sha256, head.created, text)


def _check_files(ledger: Path, head: _Index, doc: dict[str, Any]) -> None:
    """Every file the head's index lists is there, with the recorded size and digest."""
    listed = doc.get("artifacts")
    if not isinstance(listed, list):
        raise _damaged(ledger, head.name, "lists no artifacts")
    for artifact in listed:
        name = artifact.get("name") if isinstance(artifact, dict) else None
        digest = artifact.get("digest") if isinstance(artifact, dict) else None
        sha256 = digest.get("sha256") if isinstance(digest, dict) else None
        size = artifact.get("size") if isinstance(artifact, dict) else None
        if not isinstance(name, str) or not is_sha256_hex(sha256) or type(size) is not int:
            raise _damaged(ledger, head.name, "lists an artifact without name, digest or size")
        if "/" in name or "\0" in name or name in ("", ".", ".."):
            raise _damaged(ledger, head.name, f"lists {display_name(name)!r}, not a file in it")
        read = read_file_in(ledger / head.name, name, max_bytes=MAX_FILE_BYTES)
        if read.status is not None or read.sha256 != sha256 or read.size != size:
            why = read.detail if read.status is not None else "its digest or size differs"
            raise _damaged(ledger, head.name, f"has a damaged {display_name(name)} ({why})")


def next_link(head: Head | None, clock: datetime) -> ChainLink:
    """The link a new pack takes after ``head``, created at ``clock`` or, if the clock
    reads earlier, at the head's own time: a pack is never older than its predecessor.
    (The pre-flight refuses a clock behind the head; this only decides for a run that
    started before a concurrent run with a later clock took the sequence before it.)"""
    if head is None:
        return ChainLink(1, None, None, isoformat(clock))
    created = head.created_text if clock < head.created else isoformat(clock)
    return ChainLink(head.sequence + 1, head.pack_id, head.sha256, created)


def chain_head(ledger: Path) -> ChainLink:
    """The link a new pack takes now: one past the ledger's checked head."""
    return next_link(read_head(ledger), now())


def check_before_run(ledger: Path, *, known: bool = True) -> Head | None:
    """What a run checks before anything is sent or paid: under the ledger's lock,
    stale staging is removed and the head read and checked (``read_head``); then the
    clock must not be behind the head's creation time, or the new pack would be."""
    try:
        if not ledger.is_dir():
            return None
        with locked(ledger):
            remove_stale_staging(ledger)
            head = read_head(ledger, known=known)
            clock = now()
    except OSError as exc:
        raise EvidenceWriteError(f"cannot read the ledger {ledger}: {exc.strerror}") from None
    if head is not None and clock < head.created:
        raise UsageError(
            f"the clock reads {isoformat(clock)}, before the ledger's newest pack "
            f"{display_name(head.name)!r} (created {head.created_text}); a pack written now "
            "would break the ledger's time order, so nothing was sent. Correct the clock or "
            f"set SOURCE_DATE_EPOCH to {int(head.created.timestamp())} or later (or unset "
            "it), or write to another ledger"
        )
    return head


@contextmanager
def locked(ledger: Path) -> Iterator[None]:
    """Exclusive lock on the ledger directory itself, so concurrent runs serialise."""
    fd = os.open(ledger, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def staging_owner(name: str) -> int | None:
    """The process id in an aiops staging name, ``None`` for any other name."""
    match = _STAGING_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's process
        return True
    except (OSError, OverflowError):  # no such process, or no such process id
        return False
    return True


def remove_stale_staging(ledger: Path) -> list[str]:
    """Remove what interrupted aiops commands left staging in ``ledger`` and return the
    names removed. Call it holding the ledger's lock: a pack is staged only under that
    lock, so a pack's staging seen here is never a live write. Only entries whose
    process (named in the staging name) is no longer running are removed, so a review
    or checkpoint still being written beside them is left alone."""
    removed: list[str] = []
    try:
        with os.scandir(ledger) as scan:
            candidates = [e for e in scan if e.name.startswith(STAGING_PREFIX)]
    except OSError:
        return removed
    for entry in candidates:
        owner = staging_owner(entry.name)
        if owner is None or _running(owner):
            continue
        with suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
            else:
                continue
            removed.append(entry.name)
    return removed


def pack_dir_name(layer_id: str, layer_name: str, day: str, sequence: int) -> str:
    """``<LAYER>_<NAME>_<YYYY-MM-DD>_<NNN>``, e.g. ``L2_MARKET_OUTLOOK_2026-01-10_001``."""
    name = re.sub(r"[^A-Z0-9]+", "_", layer_name.upper()).strip("_")
    return f"{layer_id}_{name}_{day}_{sequence:03d}"


def evidence_pack_id(layer_id: str, day: str, sequence: int) -> str:
    return f"EVP-{layer_id}-{day}-{sequence:03d}"
