"""The pilot report's per-user cache of packs verified earlier, so that a report over a
ledger of 10,000 packs does not verify 10,000 unchanged packs again.

A pack's entry is the verify-pack result of a pack that VERIFIED and what the caller
derived from the files as verify-pack read them (``Derivation``: the pilot report's
``PackFacts``), kept with the digest of the stamps (``file_stamps``: device, inode,
size, modification and change times) of the pack directory and of every entry in it,
and of the directory's listing. It is used only when all of these are unchanged, none
was stamped within 2 s of when the cache was written (racy), and the cache was written
by this aiops version, for this ledger, under the same verifier schemas, trusted key
and derivation. Anything else, and the pack is verified afresh. A pack that did not
verify is never kept: it is verified again every time. A pack taken from the cache is
not opened at all. The hash chain through the ledger is always checked again, from each
pack's ``evidence_pack.json`` digest as verified. ``verify-pack`` never uses this
cache.

It lives under ``$XDG_CACHE_HOME/aiops/verify`` (else ``~/.cache/aiops/verify``), one
file per ledger and, beside it, the entries changed since it was written (``.delta``);
a cache that does not read is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

from aiops import __version__
from aiops.evidence.chain import verify_child, verify_ledger
from aiops.evidence.findings import (
    ChainEntry,
    FileResult,
    Finding,
    PackReport,
    ReviewResult,
    SignatureResult,
    VerifyReport,
)
from aiops.evidence.sign import TrustedKey
from aiops.evidence.strict import display_name
from aiops.evidence.verify import PackSeen, ReadPack
from aiops.schemas.catalog import GENERATED_DIR
from aiops.services.file_stamps import RACY_NS, ledger_cache_file, load_entries, save_entries

CACHE_VERSION = 2  # 2: stamps kept as a digest; derived values instead of files
DELTA_MIN = 100  # changed entries a full file's delta may hold, at the least

T = TypeVar("T")


@dataclass(frozen=True)
class Derivation(Generic[T]):
    """What a caller derives from each pack whose index parsed, from what verify-pack
    read of it and its report (``derive``), and how a value is kept in the cache
    (``dump``) and taken back (``load``: ``KeyError``, ``TypeError`` or ``ValueError``
    when it is not what ``dump`` wrote; then the pack is verified again)."""

    version: str  # another version: the cache is not used
    derive: Callable[[Path, ReadPack, PackReport], T]
    dump: Callable[[T], Any]
    load: Callable[[Any], T]


@dataclass
class CacheUse:
    """How the ledger's verdict was reached: packs taken from the cache (unchanged
    since their last full verification) and packs verified now."""

    enabled: bool
    unchanged: int = 0
    verified_now: int = 0

    def statement(self) -> str:
        """E.g. ``verify-pack: 10,000 packs, 9,990 unchanged since their last full
        verification, 10 verified now``."""
        total = self.unchanged + self.verified_now
        packs = f"{total:,} pack{'' if total == 1 else 's'}"
        if not self.enabled:
            return f"verify-pack: {packs}, all verified now (cache not used)"
        return (
            f"verify-pack: {packs}, {self.unchanged:,} unchanged since their last "
            f"full verification, {self.verified_now:,} verified now"
        )


def verify_ledger_cached(
    ledger: Path, trusted: TrustedKey | None, derivation: Derivation[T], use_cache: bool = True
) -> tuple[VerifyReport, dict[str, T], CacheUse]:
    """verify-pack's verdict on ``ledger`` and the derived value of each pack whose index
    parsed (by directory name); each unchanged pack verified earlier taken from the cache
    (``use_cache``), every other pack verified now."""
    use = CacheUse(enabled=use_cache)
    cache = _VerifyCache(ledger, trusted, derivation, use_cache)
    derived: dict[str, T] = {}

    def check(
        ledger_fd: int, path: Path, name: str, key: TrustedKey | None, _: PackSeen | None
    ) -> PackReport:
        found = pack_key(ledger_fd, name) if use_cache else None  # before reading
        cached = cache.get(path, name, found)
        if cached is not None:
            use.unchanged += 1
            derived[name] = cached[1]
            return cached[0]
        use.verified_now += 1
        read: list[ReadPack] = []
        pack = verify_child(ledger_fd, path, name, key, read.append)
        if read:
            value = derivation.derive(path / name, read[0], pack)
            derived[name] = value
            if found is not None and pack.verified:
                cache.put(name, found, pack, read[0].index_sha256, value)
        return pack

    report = verify_ledger(ledger, trusted, None, check)
    if use_cache:
        cache.save()
    return report, derived, use


def pack_key(ledger_fd: int, name: str) -> PackKey | None:
    """The digest of the stamps of the pack directory and of every entry in it, with
    the entries' names (the listing); ``None`` when the directory cannot be listed."""
    try:
        directory = os.stat(name, dir_fd=ledger_fd, follow_symlinks=False)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=ledger_fd)
    except OSError:
        return None
    try:
        with os.scandir(fd) as scan:
            # names are unique: the sort never compares two stats
            listing = sorted((entry.name, entry.stat(follow_symlinks=False)) for entry in scan)
    except OSError:
        return None
    finally:
        os.close(fd)
    digest = hashlib.sha256(_packed(directory))
    newest = max(directory.st_mtime_ns, directory.st_ctime_ns)
    for entry_name, info in listing:
        digest.update(os.fsencode(entry_name) + b"\0" + _packed(info))
        newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
    return PackKey(digest.hexdigest(), newest)


_STAMP = struct.Struct("<QQQqq")  # device, inode, size, modification and change times


def _packed(info: os.stat_result) -> bytes:
    return _STAMP.pack(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass(frozen=True)
class PackKey:
    digest: str  # of the stamps and names of the directory and its entries
    newest_ns: int  # the newest modification or change time among them


class _VerifyCache(Generic[T]):
    """The cache of one ledger: a full file, and beside it the entries changed since it
    was written (``.delta``, for the full file it names), so that a report after a
    day's runs writes a few entries, not all 10,000. The full file is written again when
    the changes reach a tenth of the packs (at least ``DELTA_MIN``)."""

    def __init__(
        self,
        ledger: Path,
        trusted: TrustedKey | None,
        derivation: Derivation[T],
        enabled: bool = True,
    ) -> None:
        self.path = ledger_cache_file("verify", ledger)
        self.delta_path = self.path.with_suffix(".delta")
        self.header = {
            "version": CACHE_VERSION,
            "aiops": __version__,
            "ledger": os.path.abspath(ledger),
            "schemas": _schema_set(),
            "key": _key_id(trusted),
            "derived": derivation.version,
        }
        self.derivation = derivation
        self.bulk, self.bulk_ns = load_entries(self.path, self.header) if enabled else ({}, 0)
        self.delta: dict[str, Any] = {}
        self.delta_ns = 0
        if self.bulk:
            delta_header = {**self.header, "full_written_ns": self.bulk_ns}
            self.delta, self.delta_ns = load_entries(self.delta_path, delta_header)
        # A name the delta maps to null: a pack of the full file that is gone.
        self.entries = {**self.bulk, **self.delta}
        self.fresh: dict[str, Any] = {}

    def get(self, ledger: Path, name: str, key: PackKey | None) -> tuple[PackReport, T] | None:
        entry = self.entries.get(name)
        if key is None or not isinstance(entry, list) or len(entry) != 3:
            return None
        # A stamp taken within RACY_NS of when its entry was written is not trusted.
        written_ns = self.delta_ns if name in self.delta else self.bulk_ns
        if entry[0] != key.digest or key.newest_ns >= written_ns - RACY_NS:
            return None
        try:
            pack = _pack_report(ledger, name, entry[1])
            value = self.derivation.load(entry[2])
        except (KeyError, TypeError, ValueError, RecursionError):
            return None
        if not pack.verified:
            return None
        self.fresh[name] = entry
        return pack, value

    def put(self, name: str, key: PackKey, pack: PackReport, index_sha256: str, value: T) -> None:
        if pack.chain is None or pack.chain.index_sha256 != index_sha256:
            return
        self.fresh[name] = [key.digest, _report_json(pack), self.derivation.dump(value)]

    def save(self) -> None:
        """Keep exactly the packs that verified this time: the entries that differ from
        the full file (new, verified again, or gone) as its delta while they are few,
        else everything as a new full file. An entry verified again is written again,
        so one that was racy becomes usable once it is not."""
        delta: dict[str, Any] = {n: e for n, e in self.fresh.items() if self.bulk.get(n) is not e}
        delta.update((n, None) for n in self.bulk if n not in self.fresh)
        if delta.keys() == self.delta.keys() and all(delta[n] is self.delta[n] for n in delta):
            return  # nothing changed since the files were written
        if self.bulk and len(delta) <= max(DELTA_MIN, len(self.fresh) // 10):
            header = {**self.header, "full_written_ns": self.bulk_ns}
            save_entries(self.delta_path, header, delta)
            return
        save_entries(self.path, self.header, self.fresh)
        with contextlib.suppress(OSError):
            self.delta_path.unlink(missing_ok=True)


def _report_json(pack: PackReport) -> list[Any]:
    """A verified pack's report, positional (a ledger's cache holds 10,000 of them)."""
    chain = pack.chain
    assert chain is not None
    return [
        [_file_values(f) for f in pack.files],
        [_values(f) for f in pack.findings],
        pack.signature.to_json(),
        pack.review.to_json(),
        pack.pack_id,
        pack.status,
        _values(chain),
        pack.input_packs,
    ]


def _file_values(result: FileResult) -> list[Any]:
    """A file's result; a listed file as its index records it (size and digest equal to
    the recorded ones, as in every verified pack) without the recorded pair again."""
    if (result.recorded_size, result.recorded_sha256) == (result.size, result.sha256):
        return [result.name, result.status, result.detail, result.role, result.size, result.sha256]
    return _values(result)


def _file_result(values: list[Any]) -> FileResult:
    if len(values) == 6:
        name, status, detail, role, size, sha256 = values
        return FileResult(name, status, detail, role, size, size, sha256, sha256)
    return FileResult(*values)


def _values(record: Any) -> list[Any]:
    """A flat record's field values, in order (``FileResult``, ``Finding``, ``ChainEntry``:
    strings, numbers and ``None``)."""
    return [getattr(record, f.name) for f in fields(record)]


def _pack_report(ledger: Path, name: str, doc: list[Any]) -> PackReport:
    files, findings, signature, review, pack_id, status, chain, input_packs = doc
    return PackReport(
        path=str(ledger / display_name(name)),
        dir_name=name,
        files=[_file_result(f) for f in files],
        findings=[Finding(*f) for f in findings],
        signature=SignatureResult(**signature),
        review=ReviewResult(**review),
        pack_id=pack_id,
        status=status,
        chain=ChainEntry(*chain),
        input_packs=input_packs,
    )


def _schema_set() -> str:
    """The digest of the schemas verify-pack checks pack files against."""
    digest = hashlib.sha256()
    for path in sorted(GENERATED_DIR.glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _key_id(trusted: TrustedKey | None) -> str | None:
    if trusted is None:
        return None
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = trusted.key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
