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

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiops.evidence.inputs_check import index_sha256
from aiops.evidence.names import RUN_MANIFEST_FILE
from aiops.evidence.strict import MAX_JSON_BYTES, StrictJSONError, loads_strict, read_file_in
from aiops.services.pack_ref import ledger_indexes

if TYPE_CHECKING:
    from aiops.schemas.pilot import PackRow

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


def governance_reviews(ledger: Path) -> dict[str, GovernanceReview]:
    """Reviewed pack id -> its newest governance review in ``ledger``."""
    indexed = ledger_indexes(ledger)
    paths = {pack_id: path for _, pack_id, path in indexed}
    found: dict[str, GovernanceReview] = {}
    for sequence, pack_id, path in sorted(indexed):
        record = _verdict_of(path)
        if record is None:
            continue
        reviewed = record.get("reviewed_pack_id")
        verdict = record.get("verdict")
        if not isinstance(reviewed, str) or not isinstance(verdict, str):
            continue
        where = paths.get(reviewed)
        current = where is not None and index_sha256(where) == record.get("reviewed_pack_sha256")
        found[reviewed] = GovernanceReview(verdict, pack_id, sequence, current)
    return found


def with_governance(ledger: Path, rows: list[PackRow]) -> list[PackRow]:
    """The pilot report's per-pack rows, each with the newest verdict on its pack."""
    reviews = governance_reviews(ledger)
    return [
        row.model_copy(update={"governance_verdict": reviews[row.pack_id].shown})
        if row.pack_id in reviews
        else row
        for row in rows
    ]


def governance_shown(pack: Path) -> str:
    """One line for a review screen: the newest verdict on the pack at ``pack``."""
    pack_id = next((i for _, i, p in ledger_indexes(pack.parent) if p.name == pack.name), None)
    review = governance_reviews(pack.parent).get(pack_id or "")
    if review is None:
        return "not reviewed by a governance layer (L4)"
    return f"{review.shown} by {review.reviewer_pack_id}"


def _verdict_of(pack: Path) -> dict[str, object] | None:
    read = read_file_in(pack, RUN_MANIFEST_FILE, max_bytes=MAX_JSON_BYTES)
    if read.status is not None or read.data is None or _MARK not in read.data:
        return None
    try:
        doc = loads_strict(read.data)
    except StrictJSONError:
        return None
    record = doc.get("governance_verdict") if isinstance(doc, dict) else None
    return record if isinstance(record, dict) else None
