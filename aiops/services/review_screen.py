"""What the review screen shows: everything the operator approves or rejects.

* Who answered, per role, as ``operator_output.md`` tells it: a role answered only when
  its output file records an answer (``completed``, ``refused``, ``incomplete``); a
  role that was called and not answered shows its failed attempts, never a model.
* Every output of the proposer's answer, rendered from its own fields (any output
  type, nested lists and objects included, every text whole): the screen never needs
  to know a layer's types. An answer that is not JSON is shown as its text.
* The critic's verdict as judged (``critic_output.json``: decision, rationale,
  findings), the run's findings and actions as ``operator_output.md`` records them
  (for a FAILED or BLOCKED pack: why), and the scope's violations.
* The verification state: verify-pack's verdict on the pack, and its link in its
  ledger (the predecessor's hash, no other pack at its sequence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiops.evidence.chain import chain_findings
from aiops.evidence.findings import PackReport, VerifyReport
from aiops.evidence.names import OPERATOR_OUTPUT_FILE
from aiops.evidence.reader import PackView
from aiops.evidence.report import RULE
from aiops.evidence.strict import MAX_JSON_BYTES, read_file_in
from aiops.evidence.verdict import verdict_line
from aiops.evidence.verify import verify_pack
from aiops.services.pack_ref import ledger_indexes

ANSWERED = ("completed", "refused", "incomplete")
# Fields that name an item: shown first, the rest in the order recorded.
_LEADING = ("id", "name", "title", "regime", "summary", "level", "severity", "condition")
_INDENT = "  "


@dataclass(frozen=True)
class RoleCall:
    """One role's call: the model that answered (``None``: no answer) and how it went."""

    role: str
    called_model: str | None  # the model the output file names (the last one tried)
    answered_by: str | None
    outcome: str  # completed, refused, incomplete, failed, or "not called"
    failed_attempts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutputBlock:
    title: str  # the output's type ("Answer" for an answer that is not JSON)
    lines: list[str]  # indented "field: value" lines


@dataclass(frozen=True)
class CriticVerdict:
    decision: str | None  # None: fails closed
    rationale: str
    findings: list[str]


@dataclass(frozen=True)
class Verification:
    verified: bool  # verify-pack's verdict on the pack alone
    verdict: str  # verify-pack's verdict line
    problems: list[str]  # one line each (shown as warnings)
    chain_ok: bool
    chain: str  # the pack's link in its ledger, or what is wrong with it


@dataclass(frozen=True)
class ReviewScreen:
    calls: list[RoleCall]
    outputs: list[OutputBlock]
    critic: CriticVerdict | None  # None: the critic was not called
    findings: list[str]  # operator_output.md "Findings": why a run failed or was blocked
    actions: list[str]  # operator_output.md "Actions"
    verification: Verification


def review_screen(view: PackView) -> ReviewScreen:
    sections = operator_findings(view.path)
    return ReviewScreen(
        calls=[_call("Proposer", view.proposer), _call("Critic", view.critic)],
        outputs=output_blocks(view.proposer),
        critic=_critic(view.critic),
        findings=sections.get("Findings", []),
        actions=sections.get("Actions", []),
        verification=verification(view.path),
    )


def _call(role: str, doc: dict[str, Any] | None) -> RoleCall:
    if doc is None:
        return RoleCall(role, None, None, "not called")
    model = doc.get("model_id") if isinstance(doc.get("model_id"), str) else None
    outcome = str(doc.get("outcome"))
    failed = [
        _attempt(a)
        for a in _list(doc.get("attempts"))
        if isinstance(a, dict) and a.get("error_class") is not None
    ]
    answered = model if outcome in ANSWERED else None
    return RoleCall(role, model, answered, outcome, failed)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _attempt(attempt: dict[str, Any]) -> str:
    status = attempt.get("http_status")
    message = attempt.get("error_message")
    return (
        f"{attempt.get('model_id')} at {attempt.get('endpoint')}: "
        f"HTTP {'-' if status is None else status}, {attempt.get('error_class')}"
        + (f": {message}" if message else "")
    )


def _critic(doc: dict[str, Any] | None) -> CriticVerdict | None:
    if doc is None:
        return None
    decision = doc.get("decision")
    return CriticVerdict(
        decision=decision if isinstance(decision, str) else None,
        rationale=str(doc.get("rationale") or ""),
        findings=[
            f"{f.get('severity')}: {f.get('detail')}" if isinstance(f, dict) else str(f)
            for f in _list(doc.get("findings"))
        ],
    )


def output_blocks(proposer: dict[str, Any] | None) -> list[OutputBlock]:
    """The proposer's answer, one block per output, each field as recorded."""
    if proposer is None:
        return []
    parsed = proposer.get("parsed")
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    if isinstance(outputs, list):
        blocks = []
        for item in outputs:
            if isinstance(item, dict):
                fields = {k: v for k, v in item.items() if k != "type"}
                blocks.append(OutputBlock(_scalar(item.get("type")), _lines(fields, 1)))
            else:
                blocks.append(OutputBlock("(not an object)", _lines(item, 1)))
        return blocks
    if parsed is not None:
        return [OutputBlock("Answer", _lines(parsed, 1))]
    text = proposer.get("answer_text") or proposer.get("output_text")
    if isinstance(text, str) and text:
        return [OutputBlock("Answer (not JSON)", [_INDENT + line for line in text.splitlines()])]
    return []


def _lines(value: Any, depth: int) -> list[str]:
    pad = _INDENT * depth
    if isinstance(value, dict):
        lines: list[str] = []
        for key in _ordered(value):
            item = value[key]
            if _is_scalar(item):
                lines.append(f"{pad}{key}: {_scalar(item)}")
            elif not item:
                lines.append(f"{pad}{key}: none")
            else:
                lines.append(f"{pad}{key}:")
                lines += _lines(item, depth + 1)
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if _is_scalar(item):
                lines.append(f"{pad}- {_scalar(item)}")
                continue
            inner = _lines(item, depth + 1) or [f"{pad}{_INDENT}none"]
            # the item's first line carries the bullet: "- id: S1", then its fields
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines += inner[1:]
        return lines
    return [f"{pad}{_scalar(value)}"]


def _ordered(fields: dict[str, Any]) -> list[str]:
    first = [key for key in _LEADING if key in fields]
    return first + [key for key in fields if key not in first]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def operator_findings(pack_dir: Path) -> dict[str, list[str]]:
    """The "Findings" and "Actions" of ``operator_output.md`` as the run wrote them;
    empty when the file does not read. A finding may quote a model (a critic's
    rationale) over several lines, rules and headings included: the findings run from
    the first "Findings" heading to the last "Actions" heading (whose lines are aiops'
    own), each item with its continuation lines."""
    read = read_file_in(pack_dir, OPERATOR_OUTPUT_FILE, max_bytes=MAX_JSON_BYTES)
    if read.status is not None or read.data is None:
        return {}
    text = read.data.decode("utf-8", errors="replace")
    findings_head, actions_head = f"{RULE}\n## Findings\n", f"{RULE}\n## Actions\n"
    start, end = text.find(findings_head), text.rfind(actions_head)
    if start < 0 or end < start:
        return {}
    findings = text[start + len(findings_head) : end]
    actions = text[end + len(actions_head) :].split(RULE, 1)[0]
    return {"Findings": _items(findings), "Actions": _items(actions)}


def _items(block: str) -> list[str]:
    items: list[str] = []
    for line in block.strip("\n").splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif items:
            items[-1] += "\n" + line
    return [item.rstrip() for item in items]


def verification(pack_dir: Path) -> Verification:
    """verify-pack's verdict on the pack, and its link in its ledger."""
    report = verify_pack(pack_dir)
    problems = [
        f"verify-pack: {f.name} {f.status}" + (f" ({f.detail})" if f.detail else "")
        for f in report.failed_files
    ]
    problems += [
        f"verify-pack: {f.check}: {f.message}"
        for f in report.findings
        if f.severity in ("error", "warning")
    ]
    chain_ok, chain = _ledger_link(pack_dir, report)
    if not chain_ok:
        problems.append(f"verify-pack: chain: {chain}")
    shown = VerifyReport(kind="pack", path=str(pack_dir), packs=[report])
    return Verification(report.verified, verdict_line(shown), problems, chain_ok, chain)


def _ledger_link(pack_dir: Path, report: PackReport) -> tuple[bool, str]:
    """The pack's place in the ledger it sits in: its predecessor's hash and id, no
    other pack at its sequence. The rest of the chain is ``verify-pack LEDGER``'s."""
    entry = report.chain
    ledger = pack_dir.parent
    if entry is None:
        return False, "not checked: the index does not read"
    indexed = ledger_indexes(ledger)
    twins = sorted(
        p.name for s, _, p in indexed if s == entry.sequence and p.name != report.dir_name
    )
    if twins:
        return False, f"sequence {entry.sequence} is also held by {', '.join(twins)} in {ledger}"
    if entry.sequence == 1:
        if entry.previous_pack_id is not None or entry.previous_pack_sha256 is not None:
            return False, "the first pack names a predecessor"
        return True, f"the first pack of {ledger}"
    before = [verify_pack(p) for s, _, p in indexed if s == entry.sequence - 1]
    if not before:
        return False, f"its predecessor (sequence {entry.sequence - 1}) is not in {ledger}"
    found = [f.message for f in chain_findings([*before, report]) if f.pack == report.dir_name]
    if found:
        return False, "; ".join(found)
    return True, f"follows {entry.previous_pack_id} (sequence {entry.sequence - 1}) in {ledger}"
