"""Internal consistency of model-run packs (proposer, critic, transcript).

The packs are assembled through ``write_evidence`` in the agreed file formats, so each
file's hash is right: only the cross-file checks can catch these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiops.canonical import prefixed_sha256
from aiops.redact import REDACTION_MARKER
from aiops.schemas.checks import Violation
from aiops.schemas.pack import PackStatus
from tests.evidence.builders import (
    PROPOSER_TEXT,
    critic_output,
    dry_pack,
    model_pack,
    proposer_output,
    reindex,
    rewrite_json,
)
from tests.evidence.conftest import Verify, messages


@pytest.mark.parametrize(
    ("status", "decision", "extra"),
    [
        ("COMPLETED", "APPROVE", {}),
        ("COMPLETED", "APPROVE_WITH_CHANGES", {}),
        ("REJECTED", "REJECT", {}),
        ("BLOCKED", None, {}),  # critic unparseable: failed closed
        ("BLOCKED", "APPROVE", {"cite": prefixed_sha256(b"something else")}),
        ("BLOCKED", "APPROVE", {"violations": [Violation(rule="forbidden_output", detail="x")]}),
        ("FAILED", "REJECT", {}),
    ],
    ids=[
        "approve",
        "approve-with-changes",
        "reject",
        "unparseable",
        "wrong-cite",
        "scope",
        "failed",
    ],
)
def test_consistent_model_packs_verify(
    tmp_path: Path, verify_json: Verify, status: PackStatus, decision: str | None, extra: Any
) -> None:
    pack = model_pack(tmp_path / "p", status=status, decision=decision, **extra)
    code, report = verify_json(pack)
    assert code == 0, messages(report)


@pytest.mark.parametrize(
    ("status", "decision", "extra", "phrase"),
    [
        ("COMPLETED", "REJECT", {}, "critic decision is 'REJECT'"),
        ("COMPLETED", None, {}, "critic decision is None"),
        ("COMPLETED", "APPROVE", {"cite": prefixed_sha256(b"other")}, "does not cite"),
        (
            "COMPLETED",
            "APPROVE",
            {"violations": [Violation(rule="forbidden_output", detail="x")]},
            "scope check failed",
        ),
        ("REJECTED", "APPROVE", {}, "status REJECTED"),
        ("BLOCKED", "APPROVE", {}, "status BLOCKED"),
        ("FAILED", "APPROVE", {}, "status FAILED although the critic approved"),
    ],
)
def test_status_must_follow_from_critic_and_scope(
    tmp_path: Path,
    verify_json: Verify,
    status: PackStatus,
    decision: str | None,
    extra: Any,
    phrase: str,
) -> None:
    pack = model_pack(tmp_path / "p", status=status, decision=decision, **extra)
    code, report = verify_json(pack)
    assert code == 1
    assert any(phrase in m for m in messages(report, "consistency")), messages(report)


def test_proposer_hash_must_be_the_hash_of_its_text(tmp_path: Path, verify_json: Verify) -> None:
    proposer = proposer_output()
    proposer["output_text"] += " "
    pack = model_pack(tmp_path / "p", proposer=proposer, cite=proposer["output_hash"])
    code, report = verify_json(pack)
    assert code == 1
    assert any("not the hash of its output_text" in m for m in messages(report))


def test_same_model_as_proposer_and_critic_breaks_sod(tmp_path: Path, verify_json: Verify) -> None:
    proposer = proposer_output()
    critic = critic_output("APPROVE", proposer["output_hash"], model_id="gpt-5.2-pro")
    pack = model_pack(tmp_path / "p", proposer=proposer, critic=critic)
    code, report = verify_json(pack)
    assert code == 1
    assert any("separation of duties" in m for m in messages(report))


def test_an_unknown_proposer_model_is_caught(tmp_path: Path, verify_json: Verify) -> None:
    proposer = proposer_output(model_id="o3")
    pack = model_pack(tmp_path / "p", proposer=proposer)
    code, report = verify_json(pack)
    assert code == 1
    assert any("differs from the model that answered" in m for m in messages(report))


def test_a_fallback_proposer_is_consistent(tmp_path: Path, verify_json: Verify) -> None:
    pack = model_pack(tmp_path / "p", proposer=proposer_output(model_id="gpt-5.2"))
    assert verify_json(pack)[0] == 0


def _rehashed(pack: Path, name: str, change: Any) -> None:
    rewrite_json(pack / name, change)
    reindex(pack, name)


def _network(proxy: str) -> dict[str, Any]:
    route = {"provider_id": "openai", "base_url": "https://api.openai.com/v1"}
    return {
        "endpoints": [{**route, "route": "proxy", "proxy": proxy, "decided_by": "HTTPS_PROXY"}],
        "tls_trust": "certifi",
        "ca_file": None,
        "ca_dir": None,
    }


@pytest.mark.parametrize(
    ("name", "change", "phrase"),
    [
        ("sod_check.json", lambda d: d.update(run_id="L2-0000000000000000"), "run_id"),
        ("capability_scope_check.json", lambda d: d.update(layer_id="L3"), "layer_id"),
        ("run_manifest.json", lambda d: d.update(run_type="live"), "run_type"),
        ("run_manifest.json", lambda d: d.update(network_used=True), "network_used"),
        (
            "run_manifest.json",
            lambda d: d.update(network=_network("http://proxy.corp:8080")),
            "records network routes for a run without network",
        ),
        (
            "run_manifest.json",
            lambda d: d.update(network=_network("http://desk:pw@proxy.corp:8080")),
            "proxy: does not match",  # a proxy is recorded as scheme://host:port only
        ),
        ("run_manifest.json", lambda d: d.update(layer_id="L3"), "layer_id"),
        ("run_manifest.json", lambda d: d.update(critic_model_id="o3"), "critic"),
        ("sod_check.json", lambda d: d.update(critic_model_id=d["proposer_model_id"]), "give FAIL"),
        ("sod_check.json", lambda d: d["checks"][0].update(passed=False), "give FAIL"),
        (
            "sod_check.json",
            lambda d: d.update(proposer_model_id="gpt-5.2"),
            "differs from the model that answered",
        ),
        ("capability_scope_check.json", lambda d: d.update(result="FAIL"), "result"),
        (
            "proposer_output.json",
            lambda d: d.update(prompt_hash=prefixed_sha256(b"x")),
            "prompt_hash",
        ),
        ("proposer_output.json", lambda d: d.update(run_id="critic-run-001"), "run_id"),
        ("critic_output.json", lambda d: d.update(role="proposer"), "role"),
        ("critic_output.json", lambda d: d["parsed"].update(decision="REJECT"), "parsed answer"),
        (
            "critic_output.json",
            lambda d: d.update(decision="MAYBE"),
            "$.decision: 'MAYBE' is not one of",
        ),
        ("proposer_output.json", lambda d: d.pop("output_text"), "output_text"),
    ],
)
def test_files_must_tell_one_story(
    tmp_path: Path, verify_json: Verify, name: str, change: Any, phrase: str
) -> None:
    pack = model_pack(tmp_path / "p")
    _rehashed(pack, name, change)
    code, report = verify_json(pack)
    assert code == 1
    found = messages(report, "consistency") + messages(report, "schema")
    assert any(phrase in m for m in found), found


def test_index_model_hashes_must_match_the_output_files(
    tmp_path: Path, verify_json: Verify
) -> None:
    pack = model_pack(tmp_path / "p")
    rewrite_json(
        pack / "evidence_pack.json",
        lambda i: i["critic"].update(output_hash=prefixed_sha256(b"elsewhere")),
    )
    code, report = verify_json(pack)
    assert code == 1
    assert any("output_hash differs" in m for m in messages(report, "consistency"))


def test_operator_output_must_state_run_and_status(tmp_path: Path, verify_json: Verify) -> None:
    pack = model_pack(tmp_path / "p")
    path = pack / "operator_output.md"
    path.write_bytes(path.read_bytes().replace(b"**Status:** COMPLETED", b"**Status:** REJECTED"))
    reindex(pack, "operator_output.md")
    code, report = verify_json(pack)
    assert code == 1
    assert any("does not state Status" in m for m in messages(report, "consistency"))


def test_a_dry_run_pack_with_a_model_file_is_inconsistent(
    tmp_path: Path, verify_json: Verify
) -> None:
    pack = dry_pack(tmp_path / "p")
    assert verify_json(pack)[0] == 0
    rewrite_json(pack / "evidence_pack.json", lambda i: i.update(status="REJECTED"))
    code, report = verify_json(pack)
    assert code == 1
    assert any("impossible for a dry-run" in m for m in messages(report, "consistency"))


def test_a_required_file_dropped_from_the_index_is_caught(
    tmp_path: Path, verify_json: Verify
) -> None:
    pack = model_pack(tmp_path / "p")
    (pack / "sod_check.json").unlink()
    rewrite_json(
        pack / "evidence_pack.json",
        lambda i: i.update(artifacts=[a for a in i["artifacts"] if a["name"] != "sod_check.json"]),
    )
    code, report = verify_json(pack)
    assert code == 1
    assert any("sod_check.json is required" in m for m in messages(report, "consistency"))


# --- The redaction record of a model output ---------------------------------------------

SECRET_FOUND = [Violation(rule="no_secrets_in_output", detail="provider_key", location="")]


def redacted_proposer(markers: int = 2) -> dict[str, Any]:
    """A proposer output whose answer held ``markers`` secrets, stored redacted: its
    ``output_hash`` is over the text as received, the record over the stored text."""
    received = PROPOSER_TEXT.replace('"medium"', '"medium ' + " ".join(["canary"] * markers) + '"')
    stored = received.replace("canary", REDACTION_MARKER)
    proposer = proposer_output(received)
    proposer.update(
        output_text=stored,
        parsed=json.loads(stored),
        redaction={
            "count": markers,
            "kinds": ["provider_key"],
            "stored_text_sha256": prefixed_sha256(stored.encode()),
        },
    )
    return proposer


def test_a_consistent_redaction_record_verifies(tmp_path: Path, verify_json: Verify) -> None:
    proposer = redacted_proposer()
    assert proposer["output_hash"] != proposer["redaction"]["stored_text_sha256"]
    pack = model_pack(tmp_path / "p", status="BLOCKED", proposer=proposer, violations=SECRET_FOUND)
    code, report = verify_json(pack)
    assert code == 0, messages(report)


REDACTION_TAMPERS: dict[str, tuple[Any, str]] = {
    "count one short": (lambda r: r.update(count=1), "redaction count 1 differs"),
    "count zero": (lambda r: r.update(count=0), "$.redaction.count: 0 is below 1"),
    "count true": (lambda r: r.update(count=True), "count: expected integer, got boolean"),
    "count a string": (lambda r: r.update(count="2"), "count: expected integer, got string"),
    "kinds empty": (lambda r: r.update(kinds=[]), "$.redaction.kinds: fewer items than 1"),
    "kinds unknown": (lambda r: r.update(kinds=["password"]), "'password' is not one of"),
    "kinds unsorted": (
        lambda r: r.update(kinds=["secret_shaped", "provider_key"]),
        "kinds is not a sorted list",
    ),
    "kinds repeated": (
        lambda r: r.update(kinds=["provider_key", "provider_key"]),
        "kinds is not a sorted list",
    ),
    "stored hash wrong": (
        lambda r: r.update(stored_text_sha256=prefixed_sha256(b"x")),
        "stored_text_sha256 is not the hash",
    ),
    "extra key": (lambda r: r.update(values=["canary"]), "$.redaction: unexpected key"),
    "key missing": (lambda r: r.pop("kinds"), "$.redaction: missing 'kinds'"),
}


@pytest.mark.parametrize("name", list(REDACTION_TAMPERS))
def test_a_redaction_record_that_does_not_fit_the_stored_text_fails(
    name: str, tmp_path: Path, verify_json: Verify
) -> None:
    change, phrase = REDACTION_TAMPERS[name]
    proposer = redacted_proposer()
    change(proposer["redaction"])
    pack = model_pack(tmp_path / "p", status="BLOCKED", proposer=proposer, violations=SECRET_FOUND)
    code, report = verify_json(pack)
    assert code == 1
    found = messages(report, "consistency") + messages(report, "schema")
    assert any(phrase in m for m in found), messages(report)


def test_a_redaction_record_is_not_a_string(tmp_path: Path, verify_json: Verify) -> None:
    proposer = redacted_proposer()
    proposer["redaction"] = "redacted"
    pack = model_pack(tmp_path / "p", status="BLOCKED", proposer=proposer, violations=SECRET_FOUND)
    code, report = verify_json(pack)
    assert code == 1
    assert any("$.redaction: matches none" in m for m in messages(report)), messages(report)


def test_a_redaction_needs_a_hash_over_another_text(tmp_path: Path, verify_json: Verify) -> None:
    """A record beside a text stored as received is a forgery (or a lost secret)."""
    proposer = redacted_proposer()
    proposer["output_hash"] = proposer["redaction"]["stored_text_sha256"]
    pack = model_pack(tmp_path / "p", status="BLOCKED", proposer=proposer, violations=SECRET_FOUND)
    code, report = verify_json(pack)
    assert code == 1
    assert any("output_hash is the hash of the stored text" in m for m in messages(report))


def test_removing_the_record_breaks_the_hash(tmp_path: Path, verify_json: Verify) -> None:
    proposer = redacted_proposer()
    proposer["redaction"] = None
    pack = model_pack(tmp_path / "p", status="BLOCKED", proposer=proposer, violations=SECRET_FOUND)
    code, report = verify_json(pack)
    assert code == 1
    assert any("not the hash of its output_text" in m for m in messages(report))


def test_a_redacted_secret_with_a_passing_scope_check_fails(
    tmp_path: Path, verify_json: Verify
) -> None:
    pack = model_pack(tmp_path / "p", status="COMPLETED", proposer=redacted_proposer())
    code, report = verify_json(pack)
    assert code == 1
    assert any("records a redacted secret but" in m for m in messages(report)), messages(report)


def test_the_verifier_knows_the_schema_s_kinds() -> None:
    from typing import get_args

    from aiops.evidence.consistency import REDACTION_KINDS
    from aiops.schemas.redaction import RedactionKind

    assert set(get_args(RedactionKind)) == REDACTION_KINDS


def _same_by_definition(a: Any, b: Any) -> bool:
    """Equal as JSON values, spelled out: one type at every place, equal leaves."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_by_definition(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same_by_definition, a, b))
    return bool(a == b)


_SAME_CASES: list[tuple[Any, Any]] = [
    (1, True),
    (1, 1.0),
    (0, False),
    (0.0, -0.0),  # one JSON number, equal floats: the same
    ({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}),
    ({"a": [1, {"b": 1.0}]}, {"a": [1, {"b": 1}]}),
    ({"a": [1, 2]}, {"a": [1, 2.0]}),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # key order does not matter
    ({"a": 1}, {"a": 1, "b": None}),
    ([[]], [{}]),
    ([1, [2, [3, [True]]]], [1, [2, [3, [1]]]]),
    ("1", 1),
    (None, 0),
    ({"x": {"y": {"z": [0.5, "s", None, False]}}}, {"x": {"y": {"z": [0.5, "s", None, False]}}}),
]


@pytest.mark.parametrize(("a", "b"), _SAME_CASES, ids=range(len(_SAME_CASES)))
def test_parsed_answers_compare_as_json_values(a: Any, b: Any) -> None:
    from aiops.evidence.consistency import _same_json

    assert _same_json(a, b) == _same_by_definition(a, b)
    assert _same_json(b, a) == _same_by_definition(b, a)
    assert _same_json(a, a)
