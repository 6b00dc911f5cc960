"""The pilot report's per-user cache of packs verified earlier, so that a report over a
ledger of 10,000 packs does not verify 10,000 unchanged packs again.

A pack's entry is the verify-pack result of a pack that VERIFIED, kept with the stamp
(``file_stamps``: device, inode, size, modification and change times) of the pack
directory and of every entry in it, and the directory's listing. It is used only when
all of these are unchanged, none was stamped within 2 s of when the cache was written
(racy), and the cache was written by this aiops version, for this ledger, under the same
verifier schemas and the same trusted key. Anything else, and the pack is verified
afresh. A pack that did not verify is never kept: it is verified again every time.
The hash chain through the ledger is always checked again, from each pack's
``evidence_pack.json`` digest as verified. ``verify-pack`` never uses this cache.

It lives under ``$XDG_CACHE_HOME/aiops/verify`` (else ``~/.cache/aiops/verify``), one
file per ledger; a cache that does not read is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from aiops.evidence.names import (
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    PROPOSER_OUTPUT_FILE,
    REVIEW_FILE,
    RUN_MANIFEST_FILE,
    SCOPE_CHECK_FILE,
    SOD_CHECK_FILE,
)
from aiops.evidence.sign import TrustedKey
from aiops.evidence.strict import display_name
from aiops.evidence.verify import PackSeen, ReadPack
from aiops.schemas.catalog import GENERATED_DIR
from aiops.services.file_stamps import (
    Stamp,
    is_racy,
    ledger_cache_file,
    load_entries,
    save_entries,
    stamp,
    stamp_of,
)

CACHE_VERSION = 1
# What the pilot report reads of a pack (besides its index), as verify-pack read it.
VIEW_FILES = (
    RUN_MANIFEST_FILE,
    SOD_CHECK_FILE,
    SCOPE_CHECK_FILE,
    PROPOSER_OUTPUT_FILE,
    CRITIC_OUTPUT_FILE,
)

PackKey = dict[str, Any]


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
    ledger: Path, trusted: TrustedKey | None, seen: PackSeen, use_cache: bool = True
) -> tuple[VerifyReport, CacheUse]:
    """verify-pack's verdict on ``ledger``, each unchanged pack verified earlier taken
    from the cache (``use_cache``), every other pack verified now."""
    use = CacheUse(enabled=use_cache)
    if not use_cache:
        report = verify_ledger(ledger, trusted, seen)
        use.verified_now = len(report.packs)
        return report, use
    cache = _VerifyCache(ledger, trusted)

    def check(
        ledger_fd: int, path: Path, name: str, key: TrustedKey | None, _: PackSeen | None
    ) -> PackReport:
        found = pack_key(ledger_fd, name)  # before reading: a later change is seen
        cached = cache.get(path, name, found)
        if cached is not None:
            use.unchanged += 1
            seen(cached[1])
            return cached[0]
        use.verified_now += 1
        read: list[ReadPack] = []

        def keep(pack_read: ReadPack) -> None:
            read.append(pack_read)
            seen(pack_read)

        pack = verify_child(ledger_fd, path, name, key, keep)
        if found is not None and pack.verified and read:
            cache.put(name, found, pack, read[0].index_sha256)
        return pack

    report = verify_ledger(ledger, trusted, seen, check)
    cache.save(changed=use.verified_now > 0)
    return report, use


def pack_key(ledger_fd: int, name: str) -> PackKey | None:
    """The stamps of the pack directory and of every entry in it, by name (the
    listing); ``None`` when the directory cannot be listed."""
    directory = stamp(name, dir_fd=ledger_fd)
    if directory is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=ledger_fd)
    except OSError:
        return None
    try:
        with os.scandir(fd) as scan:
            files = {entry.name: stamp_of(entry.stat(follow_symlinks=False)) for entry in scan}
    except OSError:
        return None
    finally:
        os.close(fd)
    return {"dir": directory, "files": dict(sorted(files.items()))}


class _VerifyCache:
    def __init__(self, ledger: Path, trusted: TrustedKey | None) -> None:
        self.path = ledger_cache_file("verify", ledger)
        self.header = {
            "version": CACHE_VERSION,
            "aiops": __version__,
            "ledger": os.path.abspath(ledger),
            "schemas": _schema_set(),
            "key": _key_id(trusted),
        }
        self.entries, self.written_ns = load_entries(self.path, self.header)
        self.fresh: dict[str, Any] = {}

    def get(
        self, ledger: Path, name: str, key: PackKey | None
    ) -> tuple[PackReport, ReadPack] | None:
        entry = self.entries.get(name)
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return None
        stamps: list[Stamp | None] = [key["dir"], *key["files"].values()]
        if is_racy(stamps, self.written_ns):
            return None
        try:
            pack = _pack_report(ledger, name, entry["report"])
            read = _read_pack(ledger / name, name, pack, key)
        except (KeyError, TypeError, ValueError, OSError, RecursionError):
            return None
        if read is None or not pack.verified:
            return None
        self.fresh[name] = entry
        return pack, read

    def put(self, name: str, key: PackKey, pack: PackReport, index_sha256: str) -> None:
        if pack.chain is None or pack.chain.index_sha256 != index_sha256:
            return
        self.fresh[name] = {"key": key, "report": _report_json(pack)}

    def save(self, changed: bool) -> None:
        """Keep exactly the packs that verified this time; written again whenever a
        pack was verified now (so that a racy entry becomes usable once it is not)."""
        if changed or self.fresh != self.entries:
            save_entries(self.path, self.header, self.fresh)


def _read_pack(path: Path, name: str, pack: PackReport, key: PackKey) -> ReadPack | None:
    """What verify-pack read of a pack that is unchanged since: its files again, as
    plain JSON (they are the bytes it verified); ``None`` when one no longer reads as
    it was stamped (then the pack is verified now)."""
    files: dict[str, Any] = key["files"]
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        index = _read_json(fd, EVIDENCE_PACK_FILE, files)
        if not isinstance(index, dict) or not isinstance(index.get("artifacts"), list):
            return None
        listed = {a.get("name") for a in index["artifacts"] if isinstance(a, dict)}
        docs = {n: _read_json(fd, n, files) for n in VIEW_FILES if n in listed}
        sidecars = {}
        if REVIEW_FILE in files:
            sidecars[REVIEW_FILE] = _read_json(fd, REVIEW_FILE, files)
    finally:
        os.close(fd)
    assert pack.chain is not None
    return ReadPack(name, index, pack.chain.index_sha256, docs, sidecars)


def _read_json(dir_fd: int, name: str, files: dict[str, Any]) -> Any:
    """A file of the pack, which must be as long as it was stamped (else ``OSError``)."""
    size = files[name][2]
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    if len(data) != size:
        raise OSError(f"{name} changed while read")
    return json.loads(data)


def _report_json(pack: PackReport) -> dict[str, Any]:
    chain = pack.chain
    assert chain is not None
    return {
        "files": [f.to_json() for f in pack.files],
        "findings": [f.to_json() for f in pack.findings],
        "signature": pack.signature.to_json(),
        "review": pack.review.to_json(),
        "pack_id": pack.pack_id,
        "status": pack.status,
        "chain": [
            chain.sequence,
            chain.pack_id,
            chain.previous_pack_id,
            chain.previous_pack_sha256,
            chain.creation_timestamp,
            chain.index_sha256,
        ],
        "input_packs": pack.input_packs,
    }


def _pack_report(ledger: Path, name: str, doc: dict[str, Any]) -> PackReport:
    return PackReport(
        path=str(ledger / display_name(name)),
        dir_name=name,
        files=[FileResult(**f) for f in doc["files"]],
        findings=[Finding(**f) for f in doc["findings"]],
        signature=SignatureResult(**doc["signature"]),
        review=ReviewResult(**doc["review"]),
        pack_id=doc["pack_id"],
        status=doc["status"],
        chain=ChainEntry(*doc["chain"]),
        input_packs=doc["input_packs"],
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
