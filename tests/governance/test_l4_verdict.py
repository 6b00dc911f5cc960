"""The governance verdict fails closed: never ALLOW unless everything holds."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.configuration import load_config
from aiops.governance.l4_verdict import governance_verdict, not_allowed_exit, verdict_lines
from aiops.schemas.scope import CapabilityScope

CONTENT = "sha256:" + "a" * 64
FILES = ["evidence_pack.json", "proposer_output.json", "sod_check.json"]


@pytest.fixture
def scope() -> CapabilityScope:
    return load_config(None).scope_for("L4")


def answer(verdict: str = "ALLOW", findings: Any = None, **extra: Any) -> dict[str, Any]:
    item = {
        "type": "GovernanceVerdict",
        "verdict": verdict,
        "reviewed_content_sha256": CONTENT,
        "findings": findings
        if findings is not None
        else [
            {"severity": "info", "policy_ref": "POL-SOD", "file": "sod_check.json", "detail": "ok"}
        ],
        "rationale": "r",
        **extra,
    }
    return {"outputs": [item]}


def judge(parsed: Any, scope: CapabilityScope, status: str = "COMPLETED") -> Any:
    return governance_verdict(
        parsed,
        status,
        scope,
        reviewed_pack_id="EVP-L2-2026-01-10-001",
        reviewed_pack_sha256="b" * 64,
        reviewed_files=FILES,
        content_hash=CONTENT,
    )


def test_a_cited_allow_stands(scope: CapabilityScope) -> None:
    record = judge(answer(), scope)
    assert (record.verdict, record.model_verdict, record.fail_closed_reasons) == (
        "ALLOW",
        "ALLOW",
        [],
    )
    assert record.policy_refs == sorted(scope.policies)
    assert not_allowed_exit("COMPLETED", record) is None
    assert verdict_lines(record) == ["governance verdict ALLOW on EVP-L2-2026-01-10-001"]


@pytest.mark.parametrize(
    "parsed",
    [None, {}, {"outputs": "x"}, {"outputs": []}, {"outputs": [answer()["outputs"][0]] * 2},
     answer(verdict="MAYBE"), answer(findings="none")],
    ids=["nothing", "empty", "not-a-list", "no-verdict", "two-verdicts", "unknown-verdict",
         "findings-not-a-list"],
)  # fmt: skip
def test_an_unreadable_verdict_is_review_required(parsed: Any, scope: CapabilityScope) -> None:
    record = judge(parsed, scope)
    assert record.verdict == "REVIEW_REQUIRED" and record.model_verdict is None
    assert not_allowed_exit("COMPLETED", record) == 1


def test_a_run_that_did_not_complete_never_allows(scope: CapabilityScope) -> None:
    for status in ("REJECTED", "BLOCKED", "FAILED"):
        record = judge(answer(), scope, status)
        assert record.verdict == "REVIEW_REQUIRED"
        assert record.fail_closed_reasons == [f"the review run is {status}"]


def test_a_reject_is_never_weakened(scope: CapabilityScope) -> None:
    record = judge(answer("REJECT", findings=[]), scope)
    assert record.verdict == "REJECT"
    assert record.fail_closed_reasons == ["the verdict cites no policy (no finding)"]


def test_uncited_findings_are_marked(scope: CapabilityScope) -> None:
    findings = [
        {"severity": "info", "policy_ref": "POL-SOD", "file": "nope.json", "detail": "x"},
        {"severity": "warning", "policy_ref": "pol-sod", "file": "sod_check.json", "detail": "x"},
    ]
    record = judge(answer(findings=findings), scope)
    assert [f.cited for f in record.findings] == [False, False]
    assert record.verdict == "REVIEW_REQUIRED"
    assert len(record.fail_closed_reasons) == 2
