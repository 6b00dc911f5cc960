"""verify-pack's re-check of input packs, on hand-made references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.inputs_check import InputsChecker, input_pack_refs


def _l2(runner: CliRunner) -> Path:
    assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
    return next(Path("evidence_packs").iterdir())


def ref(**change: Any) -> dict[str, Any]:
    return {
        "kind": "evidence_pack",
        "evidence_pack_id": "EVP-L2-2026-01-10-001",
        "sequence": 1,
        "evidence_pack_sha256": "0" * 64,
        "same_ledger": True,
        **change,
    }


def test_only_pack_entries_are_references() -> None:
    manifest = {"inputs_manifest": [{"path": "a.json", "sha256": "0" * 64, "size": 1}, ref()]}
    assert input_pack_refs(manifest) == [ref()]
    assert input_pack_refs(None) == [] and input_pack_refs({"inputs_manifest": 3}) == []


def test_a_missing_or_rehashed_pack_is_named(runner: CliRunner) -> None:
    pack = _l2(runner)
    checker = InputsChecker()
    (missing,) = checker.problems(
        "EVP-L3-x", pack.parent, [ref(evidence_pack_id="EVP-L2-2026-01-10-009")]
    )
    assert missing == (
        "input pack EVP-L2-2026-01-10-009 (sequence 1) of EVP-L3-x: no pack "
        "EVP-L2-2026-01-10-009 in the ledger evidence_packs"
    )
    (rehashed,) = checker.problems("EVP-L3-x", pack.parent, [ref()])
    assert "no longer hashes to the recorded SHA-256 (recorded 000000000000…" in rehashed
    assert "it was altered after it was taken" in rehashed


def test_another_ledger_needs_the_flag(runner: CliRunner) -> None:
    pack = _l2(runner)
    (problem,) = InputsChecker().problems("C", pack.parent, [ref(same_ledger=False)])
    assert problem.endswith("it is in another ledger: name that ledger with --input-ledger DIR")


def test_a_loop_of_references_ends(runner: CliRunner) -> None:
    pack = _l2(runner)
    checker = InputsChecker()
    checker._problems[str(pack.resolve())] = ["its input packs lead back to itself"]
    assert checker.pack_problems(pack) == ["its input packs lead back to itself"]
