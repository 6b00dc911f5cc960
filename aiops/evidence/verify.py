"""Verify one pack: re-derive every hash and return every mismatch, never the first.

The pack directory is opened once and every file is read relative to that descriptor
(``aiops.evidence.strict.read_member``), so nothing outside the pack is ever opened,
however the names or links in it are crafted. The steps:

1. list the directory (bounded); every entry must be a known, well-formed name;
2. read ``evidence_pack.json`` strictly and check its shape;
3. check every listed artifact: name, sha256-only digest, type, size, then hash;
4. read the sidecars (signature envelope, review) strictly;
5. report every unlisted entry (extra, hidden, twin names, directories, links);
6. check the files tell one story (``consistency``), the envelope (``sign``) and that
   a review names this pack and this ``evidence_pack.json`` (``review.check_review``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiops.canonical import pack_json
from aiops.evidence import consistency
from aiops.evidence.findings import ChainEntry, FileResult, PackReport, SignatureResult
from aiops.evidence.inputs_check import input_pack_refs
from aiops.evidence.names import (
    DSSE_ENVELOPE_FILE,
    EVIDENCE_PACK_FILE,
    KNOWN_FILES,
    OPERATOR_OUTPUT_FILE,
    PACK_FILES,
    PROPOSER_OUTPUT_FILE,
    REVIEW_ENVELOPE_FILE,
    REVIEW_FILE,
    RUN_MANIFEST_FILE,
    SIDECAR_FILES,
)
from aiops.evidence.review import ReviewFiles, orphan_envelope_warning, review_result
from aiops.evidence.shape import shape_errors
from aiops.evidence.sign import TrustedKey, check_envelope
from aiops.evidence.strict import (
    DIR_FLAGS,
    MAX_FILE_BYTES,
    MAX_INDEX_BYTES,
    MAX_JSON_BYTES,
    MAX_PACK_ENTRIES,
    MAX_SIDECAR_BYTES,
    FileStatus,
    StrictJSONError,
    bad_name,
    display_name,
    is_sha256_hex,
    loads_strict,
    name_key,
    read_member,
)
from aiops.evidence.verdict_check import verdict_problems
from aiops.schemas.catalog import schema_for_file

OPERATOR_HEAD_BYTES = 4096
_KNOWN_KEYS = {name_key(name): name for name in KNOWN_FILES}
# The name rules' answers for the names a pack may hold, worked out once by the rules
# themselves: every pack of a ledger lists the same few (any other is checked as it comes).
_KEY_OF_KNOWN = {name: name_key(name) for name in KNOWN_FILES}
_WELL_FORMED_KNOWN = frozenset(name for name in KNOWN_FILES if bad_name(name) is None)


@dataclass(frozen=True)
class _Listed:
    name: str
    sha256: str | None  # None when the recorded digest is not a plain sha256
    size: int | None
    problem: str  # why the entry itself is unusable ("" when usable)
    status: FileStatus  # what an unusable entry is reported as (OK when usable)


@dataclass(frozen=True)
class ReadPack:
    """What verify-pack read of a pack whose index parsed: the index, its SHA-256, and
    every listed JSON file and sidecar that verified (strict JSON, shape-checked), by
    name. Handed to a reader so that nothing is read or checked twice (the pilot
    report over a ledger)."""

    dir_name: str
    index: dict[str, Any]
    index_sha256: str
    docs: dict[str, Any] = field(default_factory=dict)
    sidecars: dict[str, Any] = field(default_factory=dict)


PackSeen = Callable[[ReadPack], None]


def verify_pack(path: os.PathLike[str] | str, trusted: TrustedKey | None = None) -> PackReport:
    """Verify the pack directory at ``path`` (the caller checked it is a directory)."""
    fd = os.open(path, DIR_FLAGS)
    try:
        return verify_pack_fd(fd, str(path), os.path.basename(os.path.abspath(path)), trusted)
    finally:
        os.close(fd)


def verify_pack_fd(
    dir_fd: int,
    display: str,
    dir_name: str,
    trusted: TrustedKey | None = None,
    seen: PackSeen | None = None,
) -> PackReport:
    report = PackReport(path=display, dir_name=dir_name)
    entries = _list(dir_fd, report)
    if entries is None:
        return report
    index_read = read_member(dir_fd, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES, keep=True)
    index_bytes = index_read.data
    index: dict[str, Any] | None = None
    if index_read.status is not None or index_bytes is None:
        report.files.append(
            FileResult(
                EVIDENCE_PACK_FILE, index_read.status or "MISSING", index_read.detail, "index"
            )
        )
    else:
        report.files.append(
            FileResult(
                EVIDENCE_PACK_FILE,
                "OK",
                role="index",
                size=index_read.size,
                sha256=index_read.sha256,
            )
        )
        index = _parse_index(index_bytes, report)
    listed = _raw_listed(index["artifacts"], report) if index is not None else []
    unchecked = _salvage_artifacts(index_bytes, report) if index is None else set()
    docs: dict[str, Any] = {}
    operator_head: bytes | None = None
    for entry in listed:
        result, data, head = _check_listed(dir_fd, entry)
        report.files.append(result)
        if result.status != "OK":
            continue
        if entry.name == OPERATOR_OUTPUT_FILE:
            operator_head = head
        elif data is not None:
            doc = _parse(entry.name, data, report)
            if doc is not None:
                docs[entry.name] = doc
    accounted = {EVIDENCE_PACK_FILE} | {e.name for e in listed} | unchecked
    sidecars: dict[str, Any] = {}
    sidecar_bytes: dict[str, bytes] = {}
    for name in sorted(SIDECAR_FILES & set(entries)):
        accounted.add(name)
        result, doc, data = _check_sidecar(dir_fd, name, report)
        report.files.append(result)
        if doc is not None and data is not None:
            sidecars[name], sidecar_bytes[name] = doc, data
    _unlisted(entries, accounted, index is not None, report)
    if index is None or index_bytes is None:
        return report
    report.pack_id = index["evidence_pack_id"]
    report.status = index["status"]
    report.chain = ChainEntry(
        sequence=index["sequence"],
        pack_id=index["evidence_pack_id"],
        previous_pack_id=index["previous_pack_id"],
        previous_pack_sha256=index["previous_pack_sha256"],
        creation_timestamp=index["creation_timestamp"],
        index_sha256=index_read.sha256 or "",
    )
    listed_names = {e.name for e in listed if not e.problem}
    for problem in consistency.check_pack(index, docs, listed_names, operator_head, dir_name):
        report.error("consistency", problem)
    report.input_packs = input_pack_refs(docs.get(RUN_MANIFEST_FILE))
    for problem in verdict_problems(
        docs.get(RUN_MANIFEST_FILE), docs.get(PROPOSER_OUTPUT_FILE), index["status"]
    ):
        report.error("consistency", problem)
    _signature(index_bytes, listed, sidecars, DSSE_ENVELOPE_FILE in entries, trusted, report)
    review_files = ReviewFiles(
        frozenset(entries) & {REVIEW_FILE, REVIEW_ENVELOPE_FILE},
        sidecars.get(REVIEW_FILE),
        sidecar_bytes.get(REVIEW_FILE),
        sidecars.get(REVIEW_ENVELOPE_FILE),
        sidecar_bytes.get(REVIEW_ENVELOPE_FILE),
    )
    report.review, problems = review_result(review_files, index, index_read.sha256 or "", trusted)
    orphan = orphan_envelope_warning(review_files.present)
    if orphan is not None:
        report.warning("review", orphan)
    for problem in problems:
        report.error("review", problem)
    if seen is not None:
        seen(ReadPack(dir_name, index, index_read.sha256 or "", docs, sidecars))
    return report


def _list(dir_fd: int, report: PackReport) -> dict[str, str] | None:
    """Each name in the directory with its kind as listed (nothing is opened), or
    ``None`` (with a finding) when there are too many or none."""
    names: dict[str, str] = {}
    with os.scandir(dir_fd) as scan:
        for entry in scan:
            names[entry.name] = _kind(entry)
            if len(names) > MAX_PACK_ENTRIES:
                report.error(
                    "layout",
                    f"more than {MAX_PACK_ENTRIES} entries in the pack directory: refused "
                    "without reading further",
                )
                return None
    if not names:
        report.error("layout", "the pack directory is empty")
        return None
    return dict(sorted(names.items()))


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symbolic link"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special file (FIFO, device or socket)"


def _parse_index(data: bytes, report: PackReport) -> dict[str, Any] | None:
    doc = _parse(EVIDENCE_PACK_FILE, data, report)
    if doc is None:
        return None
    _require_canonical(EVIDENCE_PACK_FILE, doc, data, report)
    schema = schema_for_file(EVIDENCE_PACK_FILE)
    assert schema is not None
    errors = shape_errors(doc, schema)
    if errors:
        for error in errors:
            report.error("schema", f"{EVIDENCE_PACK_FILE} {error}")
        return None
    result: dict[str, Any] = doc
    return result


def _salvage_artifacts(index_bytes: bytes | None, report: PackReport) -> set[str]:
    """A malformed index cannot be trusted for anything; the entries it lists are
    still shown (unchecked, with what is wrong with each) and returned, so the report
    names every file it lists."""
    try:
        doc = loads_strict(index_bytes) if index_bytes is not None else None
    except StrictJSONError:
        return set()
    artifacts = doc.get("artifacts") if isinstance(doc, dict) else None
    if not isinstance(artifacts, list):
        return set()
    names: set[str] = set()
    already_reported = PackReport(path="", dir_name="")  # a sink: findings came once already
    for entry in _raw_listed(artifacts, already_reported):
        if entry.name in names:
            continue
        names.add(entry.name)
        status: FileStatus = "MISMATCH" if entry.status == "OK" else entry.status
        detail = entry.problem or "not checked: evidence_pack.json is malformed"
        report.files.append(FileResult(display_name(entry.name), status, detail))
    return names


def _parse(name: str, data: bytes, report: PackReport) -> Any:
    try:
        doc = loads_strict(data)
    except StrictJSONError as exc:
        report.error("strict-json", f"{display_name(name)}: {exc}")
        return None
    schema = schema_for_file(name) if name != EVIDENCE_PACK_FILE else None
    if schema is not None:
        errors = shape_errors(doc, schema)
        for error in errors:
            report.error("schema", f"{name} {error}")
        if errors:
            return None
    return doc


def _require_canonical(name: str, doc: Any, data: bytes, report: PackReport) -> None:
    """Files no digest covers must be byte-for-byte as aiops writes them, so that not
    even a whitespace edit goes unnoticed."""
    try:
        canonical = pack_json(doc)
    except ValueError:
        canonical = b""
    if canonical != data:
        report.error(
            "strict-json",
            f"{name} is not in canonical form (sorted keys, 2-space indent, final newline)",
        )


def _raw_listed(artifacts: list[Any], report: PackReport) -> list[_Listed]:
    """Each listed artifact with the reason it is unusable, if it is."""
    result: list[_Listed] = []
    seen: dict[str, str] = {}
    for raw in artifacts:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            report.error("schema", f"{EVIDENCE_PACK_FILE} lists an artifact without a name")
            continue
        name: str = raw["name"]
        digest, size = raw.get("digest"), raw.get("size")
        sha = None
        if isinstance(digest, dict) and set(digest) == {"sha256"}:
            value = digest["sha256"]
            sha = value if is_sha256_hex(value) else None
        key = _KEY_OF_KNOWN.get(name) or name_key(name)
        name_problem = _listed_name_problem(name, seen.get(key))
        seen.setdefault(key, name)
        status: FileStatus
        if name_problem:
            problem, status = name_problem, "BAD_NAME"
        elif sha is None:
            problem, status = (
                "digest must be exactly one sha256 of 64 lower-case hex digits",
                "MISMATCH",
            )
        elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problem, status = "recorded size is not a non-negative integer", "MISMATCH"
        else:
            problem, status = "", "OK"
        recorded = size if isinstance(size, int) and not isinstance(size, bool) else None
        result.append(_Listed(name, sha, recorded, problem, status))
    return result


def _listed_name_problem(name: str, twin: str | None) -> str:
    problem = None if name in _WELL_FORMED_KNOWN else bad_name(name)
    if problem:
        return problem
    if name == EVIDENCE_PACK_FILE:
        return "the index must not list itself"
    if name in SIDECAR_FILES:
        return "a sidecar file must not be listed"
    if name not in PACK_FILES:
        return "not a pack file name"
    if twin is not None:
        return f"listed twice (as {display_name(twin)!r})"
    return ""


def _check_listed(dir_fd: int, entry: _Listed) -> tuple[FileResult, bytes | None, bytes]:
    shown = display_name(entry.name)
    if entry.problem:
        result = FileResult(shown, entry.status, entry.problem, recorded_sha256=entry.sha256)
        return result, None, b""
    is_json = entry.name.endswith(".json")
    read = read_member(
        dir_fd,
        entry.name,
        max_bytes=MAX_JSON_BYTES if is_json else MAX_FILE_BYTES,
        expected_size=entry.size,
        keep=is_json,
        head_bytes=0 if is_json else OPERATOR_HEAD_BYTES,
    )
    common = {"recorded_size": entry.size, "recorded_sha256": entry.sha256, "size": read.size}
    if read.status is not None:
        return FileResult(shown, read.status, read.detail, **common), None, b""  # type: ignore[arg-type]
    if read.sha256 != entry.sha256:
        return (
            FileResult(shown, "MISMATCH", "sha256 differs", sha256=read.sha256, **common),  # type: ignore[arg-type]
            None,
            b"",
        )
    return FileResult(shown, "OK", sha256=read.sha256, **common), read.data, read.head  # type: ignore[arg-type]


def _check_sidecar(
    dir_fd: int, name: str, report: PackReport
) -> tuple[FileResult, Any, bytes | None]:
    read = read_member(dir_fd, name, max_bytes=MAX_SIDECAR_BYTES, keep=True)
    if read.status is not None or read.data is None:
        return FileResult(name, read.status or "MISSING", read.detail, "sidecar"), None, None
    doc = _parse(name, read.data, report)
    if doc is not None:  # no digest covers a sidecar
        _require_canonical(name, doc, read.data, report)
    result = FileResult(name, "OK", "sidecar", "sidecar", size=read.size, sha256=read.sha256)
    return result, doc, read.data


def _unlisted(
    entries: dict[str, str], accounted: set[str], index_ok: bool, report: PackReport
) -> None:
    listed_keys = {name_key(name): name for name in accounted}
    for name in entries:
        if name in accounted:
            continue
        shown = display_name(name)
        key = name_key(name)
        twin = listed_keys.get(key) or _KNOWN_KEYS.get(key)
        why = bad_name(name)
        if why:
            report.files.append(FileResult(shown, "BAD_NAME", why, "unlisted"))
        elif twin is not None and twin != name:
            report.files.append(
                FileResult(
                    shown,
                    "BAD_NAME",
                    f"differs from {twin!r} only by case or Unicode normalization",
                    "unlisted",
                )
            )
        elif name in PACK_FILES and not index_ok:
            report.files.append(
                FileResult(
                    shown, "MISMATCH", "not checked: no valid evidence_pack.json", "unlisted"
                )
            )
        else:
            kind = entries[name]
            hidden = "hidden " if name.startswith(".") else ""
            report.files.append(
                FileResult(shown, "EXTRA", f"{hidden}{kind} not listed in the index", "unlisted")
            )


def _signature(
    index_bytes: bytes,
    listed: list[_Listed],
    sidecars: dict[str, Any],
    present: bool,
    trusted: TrustedKey | None,
    report: PackReport,
) -> None:
    envelope = sidecars.get(DSSE_ENVELOPE_FILE)
    if not present:
        if trusted is not None:
            report.signature = SignatureResult("MISSING", "no signature envelope; --key was given")
            report.error("signature", f"{DSSE_ENVELOPE_FILE} is missing and --key was given")
        return
    if envelope is None:  # present but unreadable or not strict JSON: already reported
        report.signature = SignatureResult("INVALID", f"{DSSE_ENVELOPE_FILE} cannot be read")
        return
    digests = {e.name: e.sha256 for e in listed if not e.problem and e.sha256}
    checked = check_envelope(envelope, index_bytes, digests, trusted)
    for problem in checked.problems:
        report.error("signature", f"{DSSE_ENVELOPE_FILE}: {problem}")
    keyids = ", ".join(checked.keyids) or "none"
    if trusted is None:
        detail = "not checked (no --key)"
        if not checked.problems:
            detail += (
                f"; the statement matches {EVIDENCE_PACK_FILE}, which the files no longer match"
                if _files_differ(report)
                else "; the statement matches the pack"
            )
        report.signature = SignatureResult(
            "NOT_CHECKED", detail, checked.keyids[0] if checked.keyids else None
        )
        return
    if checked.signed_by is None:
        report.signature = SignatureResult(
            "INVALID", f"not signed by the trusted key {trusted.keyid} (envelope key ids: {keyids})"
        )
        report.error("signature", f"not signed by the trusted key {trusted.keyid}")
    elif checked.problems:
        report.signature = SignatureResult(
            "INVALID",
            "signed by the trusted key, but the statement differs from the pack",
            trusted.keyid,
        )
    elif _files_differ(report):
        report.signature = SignatureResult(
            "FILES_DIFFER",
            "signed by the trusted key, but the signature covers a manifest "
            f"({EVIDENCE_PACK_FILE}) the files no longer match",
            trusted.keyid,
        )
    else:
        report.signature = SignatureResult("VALID", "signed by the trusted key", trusted.keyid)


def _files_differ(report: PackReport) -> bool:
    """A file the signed manifest describes (or an entry it does not list) fails."""
    return any(f.role != "sidecar" for f in report.failed_files)
