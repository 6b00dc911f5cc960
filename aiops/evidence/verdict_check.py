"""verify-pack's consistency check of a reviewing pack's ``governance_verdict``.

The record must tell the same story as the rest of the pack: it names a pack the
manifest took as input, by the same id and hash; its findings and the model's verdict
are those of the ``GovernanceVerdict`` in ``proposer_output.json``'s parsed answer; and
it is never ``ALLOW`` unless the fail-closed rules allow it (the run COMPLETED, no
reason recorded, the model said ALLOW, at least one finding, every finding cited, none
an error). Standard library only: verify-pack never imports Pydantic.
"""

from __future__ import annotations

from typing import Any

from aiops.evidence.inputs_check import input_pack_refs

_FINDING_KEYS = ("severity", "policy_ref", "file", "detail")


def verdict_problems(manifest: Any, proposer: Any, status: Any) -> list[str]:
    record = manifest.get("governance_verdict") if isinstance(manifest, dict) else None
    if not isinstance(record, dict):
        return []
    problems = []
    reviewed = (record.get("reviewed_pack_id"), record.get("reviewed_pack_sha256"))
    taken = [
        (e.get("evidence_pack_id"), e.get("evidence_pack_sha256"))
        for e in input_pack_refs(manifest)
    ]
    if reviewed not in taken:
        problems.append(
            f"governance_verdict names {reviewed[0]} at a hash no inputs_manifest entry records"
        )
    # No verdict read from the answer (none, two, or one its schema refused): nothing
    # of it may be recorded. Else the record repeats the answer's verdict and findings.
    answered = _answered_verdict(proposer) if record.get("model_verdict") is not None else None
    said = answered.get("verdict") if answered else None
    if record.get("model_verdict") != said:
        problems.append(
            f"governance_verdict says the model answered {record.get('model_verdict')!r}, "
            f"proposer_output.json says {said!r}"
        )
    recorded = [tuple(f.get(k) for k in _FINDING_KEYS) for f in record.get("findings", [])]
    given = [
        tuple(f.get(k) for k in _FINDING_KEYS)
        for f in (answered.get("findings") if answered else None) or []
        if isinstance(f, dict)
    ]
    if recorded != given:
        problems.append("governance_verdict's findings differ from proposer_output.json's")
    if record.get("verdict") == "ALLOW":
        findings = record.get("findings", [])
        if (
            status != "COMPLETED"
            or said != "ALLOW"
            or record.get("fail_closed_reasons")
            or not findings
            or not all(f.get("cited") for f in findings)
            or any(f.get("severity") == "error" for f in findings)
        ):
            problems.append("governance_verdict is ALLOW where the fail-closed rules forbid it")
    for finding in record.get("findings", []):
        if finding.get("cited") and finding.get("policy_ref") not in record.get("policy_refs", []):
            problems.append(
                f"governance_verdict marks {finding.get('policy_ref')!r} cited, "
                "which is not among its policy_refs"
            )
    return problems


def _answered_verdict(proposer: Any) -> dict[str, Any] | None:
    parsed = proposer.get("parsed") if isinstance(proposer, dict) else None
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    verdicts = [
        o
        for o in (outputs if isinstance(outputs, list) else [])
        if isinstance(o, dict) and o.get("type") == "GovernanceVerdict"
    ]
    return verdicts[0] if len(verdicts) == 1 else None
