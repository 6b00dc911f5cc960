"""Which packs of a ledger a reviewing layer (L4) reviewed, and with what verdict.

A reviewing pack's ``run_manifest.json`` holds ``governance_verdict``: the reviewed
pack's id and the SHA-256 of its ``evidence_pack.json`` when it was reviewed. The
newest review of a pack (by sequence) is its verdict; a pack altered since it was
reviewed shows the verdict as ``stale`` — the review no longer speaks for it.

Read with the strict JSON reader only (no Pydantic): ``runs``, ``show``, ``review`` and
``pilot report`` all call ``governance_reviews`` once per ledger. A manifest that does
not read is passed over here; verify-pack reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiops.evidence.inputs_check import index_sha256, input_pack_refs
from aiops.evidence.ledger import pack_dirs
from aiops.evidence.names import EVIDENCE_PACK_FILE, RUN_MANIFEST_FILE
from aiops.evidence.strict import (
    MAX_INDEX_BYTES,
    MAX_JSON_BYTES,
    StrictJSONError,
    loads_strict,
    read_file_in,
)

_MARK = b'"governance_verdict"'


@dataclass(frozen=True)
class GovernanceReview:
    verdict: str  # ALLOW / REVIEW_REQUIRED / REJECT, after the fail-closed rules
    reviewer_pack_id: str  # the reviewing pack
    reviewer_sequence: int
    current: bool  # the reviewed pack still hashes to what was reviewed

    @property
    def shown(self) -> str:
        """``ALLOW``, or ``ALLOW (stale)`` when the pack changed after the review."""
        return self.verdict if self.current else f"{self.verdict} (stale)"


def governance_reviews(
    ledger: Path, manifests: Mapping[str, Any] | None = None, names: Iterable[str] | None = None
) -> dict[str, GovernanceReview]:
    """Reviewed pack id -> its newest governance review in ``ledger``. Only manifests
    that mention a verdict are parsed, and only reviewing packs' indexes read, so a
    large ledger costs one small read per pack; none for a pack whose verified
    manifest the caller holds (``manifests``, by pack directory name). ``names``: the
    ledger's pack directories, when the caller has listed them."""
    found: dict[str, GovernanceReview] = {}
    paths = pack_dirs(ledger) if names is None else [ledger / name for name in names]
    for path in paths:
        if manifests is not None and path.name in manifests:
            manifest = _with_verdict(manifests[path.name])
        else:
            manifest = _manifest_with_verdict(path)
        if manifest is None:
            continue
        record = manifest["governance_verdict"]
        reviewed, verdict = record.get("reviewed_pack_id"), record.get("verdict")
        own = _index(path)
        if not isinstance(reviewed, str) or not isinstance(verdict, str) or own is None:
            continue
        entry = next(
            (
                e
                for e in input_pack_refs(manifest)
                if e.get("evidence_pack_id") == reviewed and e.get("same_ledger") is True
            ),
            None,
        )
        current = (
            entry is not None
            and isinstance(entry.get("path"), str)
            and index_sha256(ledger / entry["path"]) == record.get("reviewed_pack_sha256")
        )
        review = GovernanceReview(verdict, own[1], own[0], current)
        if reviewed not in found or found[reviewed].reviewer_sequence < review.reviewer_sequence:
            found[reviewed] = review
    return found


class _Row(Protocol):
    """A per-pack row of a listing (``runs``) or report (``pilot report``)."""

    @property
    def pack_id(self) -> str: ...

    def model_copy(self, *, update: dict[str, Any]) -> Any: ...


RowT = TypeVar("RowT", bound=_Row)


def with_governance(
    ledger: Path,
    rows: list[RowT],
    manifests: Mapping[str, Any] | None = None,
    names: Iterable[str] | None = None,
) -> list[RowT]:
    """Each per-pack row with the newest governance verdict on its pack (never cached
    with the row: it comes from another pack). ``manifests``: those already read;
    ``names``: the ledger's pack directories, when already listed."""
    reviews = governance_reviews(ledger, manifests, names)
    if not reviews:
        return rows
    return [
        row.model_copy(update={"governance_verdict": reviews[row.pack_id].shown})
        if row.pack_id in reviews
        else row
        for row in rows
    ]


def governance_shown(pack: Path) -> str:
    """One line for a review screen: the newest verdict on the pack at ``pack``."""
    own = _index(pack)
    review = governance_reviews(pack.parent).get(own[1]) if own is not None else None
    if review is None:
        return "not reviewed by a governance layer (L4)"
    return f"{review.shown} by {review.reviewer_pack_id}"


def _manifest_with_verdict(pack: Path) -> dict[str, Any] | None:
    read = read_file_in(pack, RUN_MANIFEST_FILE, max_bytes=MAX_JSON_BYTES)
    if read.status is not None or read.data is None or _MARK not in read.data:
        return None
    try:
        doc = loads_strict(read.data)
    except StrictJSONError:
        return None
    return _with_verdict(doc)


def _with_verdict(doc: Any) -> dict[str, Any] | None:
    if isinstance(doc, dict) and isinstance(doc.get("governance_verdict"), dict):
        return doc
    return None


def _index(pack: Path) -> tuple[int, str] | None:
    """(sequence, pack id) of the pack's index, if it reads."""
    read = read_file_in(pack, EVIDENCE_PACK_FILE, max_bytes=MAX_INDEX_BYTES)
    if read.status is not None or read.data is None:
        return None
    try:
        doc = loads_strict(read.data)
    except StrictJSONError:
        return None
    sequence = doc.get("sequence") if isinstance(doc, dict) else None
    pack_id = doc.get("evidence_pack_id") if isinstance(doc, dict) else None
    if type(sequence) is int and isinstance(pack_id, str):
        return sequence, pack_id
    return None
