"""What a verification proved, check by check, and what it did not.

``proven`` sorts every file problem and finding of a ``VerifyReport`` into the checks
an auditor asks about — integrity, completeness, consistency, hash chain, signatures,
truncation, reviews — and says for each whether it passed, failed, or was not (or
could not be) checked. The verdict line and ``--json`` (``"checks"``) both come from
here, so they never say different things.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiops.evidence.names import DSSE_ENVELOPE_FILE, REVIEW_ENVELOPE_FILE, REVIEW_FILE
from aiops.wording import counted

if TYPE_CHECKING:
    from aiops.evidence.findings import FileResult, Finding, VerifyReport

CheckStatus = Literal[
    "passed",
    "failed",
    "not_applicable",
    "verified",  # signatures: every pack signed by the trusted key
    "not_checked",  # signatures without --key; truncation without --checkpoint
    "not_signed",  # signatures: no pack carries one
    "authenticated",  # reviews: every review signed by the trusted key
    "unauthenticated",  # reviews: present, but no key checked them
    "none",  # reviews: there are none
]
CHECKS = (
    "integrity",
    "completeness",
    "consistency",
    "hash_chain",
    "signatures",
    "truncation",
    "reviews",
)
_LABELS = {"hash_chain": "hash chain"}
_INTEGRITY = frozenset({"MISMATCH", "TOO_LARGE"})
_REVIEW_FILES = (REVIEW_FILE, REVIEW_ENVELOPE_FILE)


@dataclass(frozen=True)
class Proven:
    status: CheckStatus
    detail: str
    short: str = ""  # the qualifier in the verdict line, when the status needs one

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "verified", "authenticated", "none", "not_applicable")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail}


def proven(report: VerifyReport) -> dict[str, Proven]:
    """Each check of ``CHECKS`` with what it established for ``report``."""
    files = [f for p in report.packs for f in p.failed_files]
    findings = list(report.findings) + [f for p in report.packs for f in p.findings]
    errors = [f for f in findings if f.severity == "error"]
    ledger = report.kind == "ledger"
    return {
        "integrity": _plain(
            [f for f in files if _area(f) == "integrity"],
            [],
            "every listed file's size and SHA-256",
        ),
        "completeness": _plain(
            [f for f in files if _area(f) == "completeness"],
            [f for f in errors if _topic(f) == "completeness"],
            "no file missing, added, renamed or swapped for a link",
        ),
        "consistency": _plain(
            [],
            [f for f in errors if _topic(f) == "consistency"],
            "strict JSON, schemas, and the files telling one story",
        ),
        "hash_chain": _chain(report, [f for f in errors if _topic(f) == "chain"], ledger),
        "signatures": _signatures(report, files, errors),
        "truncation": _truncation(report, [f for f in errors if _topic(f) == "checkpoint"]),
        "reviews": _reviews(report, files, errors),
    }


def verdict_line(report: VerifyReport) -> str:
    """The last line of the report: the verdict, then what each check established."""
    if report.verified:
        head = f"VERIFIED — {counted(len(report.packs), 'pack')}"
    else:
        head = (
            f"NOT VERIFIED — {counted(report.failed_files, 'file problem')}, "
            f"{counted(len(report.errors), 'finding')}"
        )
    parts = []
    for name, check in proven(report).items():
        word = check.status.replace("_", " ")
        word = word if check.ok else word.upper()
        parts.append(
            f"{_LABELS.get(name, name)} {word}" + (f" ({check.short})" if check.short else "")
        )
    return f"{head} · " + " · ".join(parts)


def _plain(files: list[FileResult], errors: list[Finding], what: str) -> Proven:
    problems = len(files) + len(errors)
    if problems:
        return Proven("failed", f"{counted(problems, 'problem')} found checking {what}")
    return Proven("passed", what)


def _chain(report: VerifyReport, errors: list[Finding], ledger: bool) -> Proven:
    if not ledger:
        return Proven("not_applicable", "a single pack: verify its ledger for the chain")
    if errors:
        return Proven(
            "failed",
            f"{counted(len(errors), 'break')} in the chain of {counted(len(report.packs), 'pack')}",
        )
    return Proven("passed", f"{counted(len(report.packs), 'pack')} in one chain from sequence 1")


def _signatures(report: VerifyReport, files: list[FileResult], errors: list[Finding]) -> Proven:
    statuses = [p.signature.status for p in report.packs]
    signed = sum(1 for s in statuses if s != "UNSIGNED" and s != "MISSING")
    stale = statuses.count("FILES_DIFFER")
    problems = [f for f in errors if _topic(f) == "signatures"]
    problems_files = [f for f in files if f.name == DSSE_ENVELOPE_FILE]
    if problems or problems_files or stale:
        detail = f"{counted(len(problems) + len(problems_files), 'signature problem')}"
        if stale:
            detail += (
                f"; {counted(stale, 'pack')} validly signed over a manifest their files "
                "no longer match"
            )
        return Proven("failed", detail)
    if report.key_id is not None:
        return Proven(
            "verified", f"every pack signed by the trusted key {report.key_id}", "trusted key"
        )
    if signed:
        return Proven(
            "not_checked",
            f"{signed} of {len(statuses)} packs carry a signature, not checked: no --key, so "
            "authenticity is not proven",
            "no --key",
        )
    return Proven("not_signed", "no pack carries a signature: authenticity is not proven")


def _truncation(report: VerifyReport, errors: list[Finding]) -> Proven:
    if report.kind != "ledger":
        return Proven("not_applicable", "a single pack: a checkpoint applies to a ledger")
    if report.checkpoint is None:
        return Proven(
            "not_checked",
            "no --checkpoint: packs (or reviews) removed from the ledger cannot be seen",
            "no --checkpoint",
        )
    if errors:
        return Proven("failed", f"{counted(len(errors), 'difference')} from the checkpoint")
    detail = f"the ledger still holds the {report.checkpoint['ledger_size']} checkpointed packs"
    if "reviews" not in report.checkpoint:
        return Proven(
            "passed", detail + "; this checkpoint (v1) records no reviews", "v1: no reviews"
        )
    return Proven("passed", detail + " and every checkpointed review")


def _reviews(report: VerifyReport, files: list[FileResult], errors: list[Finding]) -> Proven:
    reviews = [p.review for p in report.packs if p.review.present]
    problems = len([f for f in errors if _topic(f) == "reviews"])
    problems += len([f for f in files if f.name in _REVIEW_FILES])
    if problems:
        return Proven("failed", f"{counted(problems, 'review problem')}")
    if not reviews:
        return Proven("none", "no pack carries a review")
    signed = sum(1 for r in reviews if r.status in ("VALID", "NOT_CHECKED"))
    if report.key_id is not None:
        return Proven(
            "authenticated",
            f"{counted(len(reviews), 'review')}, each signed by the trusted key",
            str(len(reviews)),
        )
    return Proven(
        "unauthenticated",
        f"{len(reviews)} review(s), {signed} carrying a signature; not checked: no --key, so "
        "anyone who can write the ledger could have written them",
        f"{len(reviews)}, no --key",
    )


def _area(file: FileResult) -> str:
    if file.name == DSSE_ENVELOPE_FILE:
        return "signatures"
    if file.name in _REVIEW_FILES:
        return "reviews"
    return "integrity" if file.status in _INTEGRITY else "completeness"


def _topic(finding: Finding) -> str:
    """The check a finding belongs to; a strict-JSON or schema finding about a sidecar
    belongs to what the sidecar proves."""
    if finding.check in ("strict-json", "schema"):
        for name, topic in _SIDECAR_TOPICS:
            if finding.message.startswith(name):
                return topic
        return "consistency"
    return _FINDING_TOPICS.get(finding.check, finding.check)


_SIDECAR_TOPICS = (
    (DSSE_ENVELOPE_FILE, "signatures"),
    (REVIEW_ENVELOPE_FILE, "reviews"),
    (REVIEW_FILE, "reviews"),
)
_FINDING_TOPICS = {
    "layout": "completeness",
    "consistency": "consistency",
    "chain": "chain",
    "signature": "signatures",
    "review": "reviews",
    "checkpoint": "checkpoint",
    "inputs": "consistency",  # the input packs still there, unaltered and verified
}
