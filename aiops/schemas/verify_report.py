"""What ``aiops verify-pack --json`` prints, as a schema (``aiops schema verify-report``).

verify-pack builds its report as plain data (``VerifyReport.to_json``) and never loads
Pydantic; this model only describes that output for readers and for the schema export.
A test validates real reports against it, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from aiops.evidence.findings import Check, ReviewStatus, Severity, SignatureStatus
from aiops.evidence.strict import FileStatus
from aiops.evidence.verdict import CheckStatus
from aiops.schemas.base import Strict
from aiops.schemas.pilot import OutputFormat


class CheckOutcome(Strict):
    status: CheckStatus
    detail: str


class ReportSummary(Strict):
    packs: int
    packs_verified: int
    failed_files: int
    errors: int
    warnings: int


class FindingEntry(Strict):
    check: Check
    severity: Severity
    message: str
    pack: str | None


class FileEntry(Strict):
    name: str
    status: FileStatus
    detail: str
    role: Literal["index", "listed", "sidecar", "unlisted"]
    size: int | None
    recorded_size: int | None
    sha256: str | None
    recorded_sha256: str | None


class SignatureEntry(Strict):
    status: SignatureStatus
    detail: str
    keyid: str | None


class ReviewEntry(Strict):
    status: ReviewStatus
    detail: str
    keyid: str | None
    decision: str | None
    review_sha256: str | None
    envelope_sha256: str | None


class PackEntry(Strict):
    path: str
    evidence_pack_id: str | None
    sequence: int | None
    status: str | None
    verified: bool
    files: list[FileEntry]
    findings: list[FindingEntry]
    signature: SignatureEntry
    review: ReviewEntry


class VerifyReportOutput(Strict):
    format: OutputFormat
    checks: dict[str, CheckOutcome]
    kind: Literal["pack", "ledger"]
    path: str
    verified: bool
    key_id: str | None
    checkpoint: dict[str, Any] | None
    summary: ReportSummary
    findings: list[FindingEntry]
    packs: list[PackEntry]
