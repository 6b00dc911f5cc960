"""The governance verdict of a layer that reviews a pack (L4), failing closed.

The reviewing model answers one ``GovernanceVerdict`` output: ``ALLOW``,
``REVIEW_REQUIRED`` or ``REJECT``, with findings that each cite a policy reference of
the reviewing scope (``[policies]``) and the reviewed pack's file they concern, and the
hash on the markers around the reviewed pack's content. What holds is stricter than
what was said whenever anything is off — the answer unreadable, no finding, a finding
citing an unknown policy or file, the wrong hash, ALLOW beside an error finding, or the
review run itself not COMPLETED (its critic rejected, a scope violation, no answer):
then the verdict is ``REVIEW_REQUIRED`` (a ``REJECT`` stays ``REJECT``). It is never
``ALLOW`` by default.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from aiops.errors import EXIT_REJECTED
from aiops.schemas.chain_outputs import GovernanceVerdict
from aiops.schemas.manifest import GovernanceFinding, GovernanceVerdictRecord
from aiops.schemas.scope import CapabilityScope


def governance_verdict(
    parsed: dict[str, Any] | None,
    run_status: str,
    scope: CapabilityScope,
    *,
    reviewed_pack_id: str,
    reviewed_pack_sha256: str,
    reviewed_files: list[str],
    content_hash: str,
) -> GovernanceVerdictRecord:
    reasons: list[str] = []
    answer = _one_verdict(parsed, reasons)
    findings: list[GovernanceFinding] = []
    if answer is not None:
        if answer.reviewed_content_sha256 != content_hash:
            reasons.append(
                f"the verdict names {answer.reviewed_content_sha256!r}, not the reviewed "
                f"content {content_hash}"
            )
        if not answer.findings:
            reasons.append("the verdict cites no policy (no finding)")
        for number, item in enumerate(answer.findings, 1):
            known_policy = item.policy_ref in scope.policies
            known_file = item.file in reviewed_files
            if not known_policy:
                reasons.append(
                    f"finding {number} cites {item.policy_ref!r}, not a policy of "
                    f"{scope.scope.scope_id}"
                )
            if not known_file:
                reasons.append(f"finding {number} names {item.file!r}, not a reviewed pack file")
            findings.append(
                GovernanceFinding(
                    severity=item.severity,
                    policy_ref=item.policy_ref,
                    file=item.file,
                    detail=item.detail,
                    cited=known_policy and known_file,
                )
            )
        errors = sum(1 for item in answer.findings if item.severity == "error")
        if answer.verdict == "ALLOW" and errors:
            reasons.append(f"ALLOW beside {errors} finding(s) of severity error")
    if run_status != "COMPLETED":
        reasons.append(f"the review run is {run_status}")
    said = answer.verdict if answer is not None else None
    if not reasons:
        verdict = said
    else:
        verdict = "REJECT" if said == "REJECT" else "REVIEW_REQUIRED"
    assert verdict is not None
    return GovernanceVerdictRecord(
        reviewed_pack_id=reviewed_pack_id,
        reviewed_pack_sha256=reviewed_pack_sha256,
        verdict=verdict,
        model_verdict=said,
        fail_closed_reasons=reasons,
        policy_refs=sorted(scope.policies),
        findings=findings,
    )


def _one_verdict(parsed: dict[str, Any] | None, reasons: list[str]) -> GovernanceVerdict | None:
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    items = [
        item
        for item in (outputs if isinstance(outputs, list) else [])
        if isinstance(item, dict) and item.get("type") == "GovernanceVerdict"
    ]
    if len(items) != 1:
        reasons.append(
            "no readable GovernanceVerdict in the answer"
            if not items
            else f"{len(items)} GovernanceVerdict outputs in the answer, one expected"
        )
        return None
    try:
        return GovernanceVerdict.model_validate(items[0])
    except ValidationError as exc:
        reasons.append(f"the GovernanceVerdict does not parse ({exc.error_count()} error(s))")
        return None


def not_allowed_exit(status: str, record: GovernanceVerdictRecord | None) -> int | None:
    """A completed review whose verdict is not ALLOW exits 1, like a critic's
    rejection: the pack is written, and nothing downstream may take it as approval."""
    if record is None or status != "COMPLETED" or record.verdict == "ALLOW":
        return None
    return EXIT_REJECTED


def verdict_lines(record: GovernanceVerdictRecord | None) -> list[str]:
    """The verdict as the run's reason and the report's finding."""
    if record is None:
        return []
    line = f"governance verdict {record.verdict} on {record.reviewed_pack_id}"
    if record.fail_closed_reasons:
        said = record.model_verdict or "no readable verdict"
        line += f" (the model said {said}; failed closed: {'; '.join(record.fail_closed_reasons)})"
    return [line]
