"""The typed result of ``verify-pack``: every file's status and every finding.

A pack is verified only when every file is ``OK`` and no finding is an error; nothing
stops at the first problem, so an auditor sees the whole picture in one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aiops.evidence.strict import FileStatus

Severity = Literal["error", "warning", "info"]
Check = Literal[
    "layout",
    "strict-json",
    "schema",
    "consistency",
    "chain",
    "signature",
    "review",
    "checkpoint",
    "inputs",  # the packs taken as input (aiops.evidence.inputs_check)
]
# FILES_DIFFER: the trusted key's signature is valid over evidence_pack.json, but the
# pack's files no longer match that signed manifest (never shown as a plain VALID).
SignatureStatus = Literal["VALID", "FILES_DIFFER", "INVALID", "MISSING", "NOT_CHECKED", "UNSIGNED"]
# A review: VALID signed by the trusted key; NOT_CHECKED signed, no --key; UNSIGNED no
# envelope, no --key; MISSING no envelope though --key was given; INVALID anything that
# does not hold; NONE no review at all.
ReviewStatus = Literal["VALID", "INVALID", "MISSING", "NOT_CHECKED", "UNSIGNED", "NONE"]
# What `verify-pack --json` prints, named like every other --json output.
REPORT_FORMAT = {"name": "aiops-verify-report", "version": 1}


@dataclass(frozen=True)
class FileResult:
    """One name in the pack directory or in its index."""

    name: str  # safe to print (control characters escaped)
    status: FileStatus
    detail: str = ""
    role: Literal["index", "listed", "sidecar", "unlisted"] = "listed"
    size: int | None = None
    recorded_size: int | None = None
    sha256: str | None = None
    recorded_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "role": self.role,
            "size": self.size,
            "recorded_size": self.recorded_size,
            "sha256": self.sha256,
            "recorded_sha256": self.recorded_sha256,
        }


@dataclass(frozen=True)
class Finding:
    check: Check
    severity: Severity
    message: str
    pack: str | None = None  # the pack directory, for ledger-level findings

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "pack": self.pack,
        }


@dataclass(frozen=True)
class SignatureResult:
    status: SignatureStatus
    detail: str
    keyid: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "keyid": self.keyid}


@dataclass(frozen=True)
class ReviewResult:
    """The review beside a pack, if any, and what its signature proves."""

    status: ReviewStatus
    detail: str
    keyid: str | None = None
    decision: str | None = None
    review_sha256: str | None = None  # of review.json, as read
    envelope_sha256: str | None = None  # of review.dsse.json, as read

    @property
    def present(self) -> bool:
        return self.status != "NONE"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "keyid": self.keyid,
            "decision": self.decision,
            "review_sha256": self.review_sha256,
            "envelope_sha256": self.envelope_sha256,
        }


NO_REVIEW = ReviewResult("NONE", "no review")


@dataclass(frozen=True)
class ChainEntry:
    """What the ledger check needs from one pack's index."""

    sequence: int
    pack_id: str
    previous_pack_id: str | None
    previous_pack_sha256: str | None
    creation_timestamp: str
    index_sha256: str


@dataclass
class PackReport:
    path: str
    dir_name: str
    files: list[FileResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    signature: SignatureResult = field(
        default_factory=lambda: SignatureResult("UNSIGNED", "no signature envelope")
    )
    review: ReviewResult = NO_REVIEW
    pack_id: str | None = None
    status: str | None = None
    chain: ChainEntry | None = None
    input_packs: list[dict[str, Any]] = field(default_factory=list)  # from inputs_manifest

    def error(self, check: Check, message: str) -> None:
        self.findings.append(Finding(check, "error", message))

    def warning(self, check: Check, message: str) -> None:
        self.findings.append(Finding(check, "warning", message))

    @property
    def failed_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status != "OK"]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def verified(self) -> bool:
        return bool(self.files) and not self.failed_files and not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "evidence_pack_id": self.pack_id,
            "sequence": self.chain.sequence if self.chain else None,
            "status": self.status,
            "verified": self.verified,
            "files": [f.to_json() for f in self.files],
            "findings": [f.to_json() for f in self.findings],
            "signature": self.signature.to_json(),
            "review": self.review.to_json(),
        }


@dataclass
class VerifyReport:
    kind: Literal["pack", "ledger"]
    path: str
    packs: list[PackReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    key_id: str | None = None
    checkpoint: dict[str, Any] | None = None  # the checkpoint checked, if any

    @property
    def errors(self) -> list[Finding]:
        own = [f for f in self.findings if f.severity == "error"]
        return own + [f for pack in self.packs for f in pack.errors]

    @property
    def warnings(self) -> list[Finding]:
        own = [f for f in self.findings if f.severity == "warning"]
        return own + [f for p in self.packs for f in p.findings if f.severity == "warning"]

    @property
    def failed_files(self) -> int:
        return sum(len(pack.failed_files) for pack in self.packs)

    @property
    def verified(self) -> bool:
        return bool(self.packs) and all(p.verified for p in self.packs) and not self.errors

    def to_json(self) -> dict[str, Any]:
        from aiops.evidence.verdict import proven

        return {
            "format": REPORT_FORMAT,
            "checks": {name: check.to_json() for name, check in proven(self).items()},
            "kind": self.kind,
            "path": self.path,
            "verified": self.verified,
            "key_id": self.key_id,
            "checkpoint": self.checkpoint,
            "summary": {
                "packs": len(self.packs),
                "packs_verified": sum(1 for p in self.packs if p.verified),
                "failed_files": self.failed_files,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
            },
            "findings": [f.to_json() for f in self.findings],
            "packs": [p.to_json() for p in self.packs],
        }
