"""The verdict says exactly what was proven: the last line of ``verify-pack`` and the
``checks`` of ``--json`` list integrity, completeness, consistency, hash chain,
signatures, truncation and reviews, each passed, failed, or not checked and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.sign import load_private_key, make_sealer
from aiops.services.keys import KeyPair
from tests.evidence.builders import ledger
from tests.evidence.conftest import Verify

PASSED = "integrity passed · completeness passed · consistency passed"


def last_line(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["verify-pack", *args])
    return result.exit_code, result.stdout.rstrip().splitlines()[-1], result.stdout


def review(runner: CliRunner, pack: Path) -> None:
    result = runner.invoke(app, ["review", str(pack), "--approve", "--reviewer", "op-a"])
    assert result.exit_code == 0, result.output


def warnings(report: dict[str, Any]) -> list[str]:
    return [f["message"] for f in report["findings"] if f["severity"] == "warning"]


def test_an_unsigned_ledger_says_what_was_not_proven(
    tmp_path: Path, runner: CliRunner, verify_json: Verify
) -> None:
    packs = ledger(tmp_path / "ledger", 2)
    review(runner, packs[0])
    code, line, _ = last_line(runner, str(tmp_path / "ledger"))
    assert code == 0
    assert line == (
        f"VERIFIED — 2 packs · {PASSED} · hash chain passed · signatures NOT SIGNED · "
        "truncation NOT CHECKED (no --checkpoint) · reviews UNAUTHENTICATED (1, no --key)"
    )
    code, report = verify_json(tmp_path / "ledger")
    assert code == 0
    assert {name: check["status"] for name, check in report["checks"].items()} == {
        "integrity": "passed",
        "completeness": "passed",
        "consistency": "passed",
        "hash_chain": "passed",
        "signatures": "not_signed",
        "truncation": "not_checked",
        "reviews": "unauthenticated",
    }
    assert report["packs"][0]["review"]["status"] == "UNSIGNED"
    assert warnings(report) == []  # nothing signed: nothing left unchecked to warn of


def test_a_signed_ledger_without_key_warns_and_says_not_checked(
    tmp_path: Path, keys: KeyPair, runner: CliRunner, verify_json: Verify
) -> None:
    ledger(tmp_path / "ledger", 2, keys.private_path)
    code, line, _ = last_line(runner, str(tmp_path / "ledger"))
    assert code == 0
    assert line == (
        f"VERIFIED — 2 packs · {PASSED} · hash chain passed · signatures NOT CHECKED "
        "(no --key) · truncation NOT CHECKED (no --checkpoint) · reviews none"
    )
    _, report = verify_json(tmp_path / "ledger")
    assert warnings(report) == [
        "2 of 2 packs carry a signature that was not checked (no --key): their "
        "authenticity is not proven"
    ]


def test_a_stripped_envelope_is_pointed_at_without_key_and_fails_with_it(
    tmp_path: Path, keys: KeyPair, runner: CliRunner, verify_json: Verify
) -> None:
    packs = ledger(tmp_path / "ledger", 3, keys.private_path)
    (packs[1] / "evidence_pack.dsse.json").unlink()
    code, report = verify_json(tmp_path / "ledger")
    assert code == 0
    assert warnings(report) == [
        "2 of 3 packs carry a signature that was not checked (no --key): their "
        f"authenticity is not proven; unsigned beside them: {packs[1].name} (a removed "
        "signature?)"
    ]
    code, line, _ = last_line(runner, str(tmp_path / "ledger"), "--key", str(keys.public_path))
    assert code == 1
    assert "signatures FAILED" in line


def test_an_envelope_re_signed_with_another_key_fails_with_the_key(
    tmp_path: Path, keys: KeyPair, other_keys: KeyPair, runner: CliRunner, verify_json: Verify
) -> None:
    packs = ledger(tmp_path / "ledger", 2, keys.private_path)
    seal = make_sealer(load_private_key(other_keys.private_path))
    envelope = seal((packs[0] / "evidence_pack.json").read_bytes())["evidence_pack.dsse.json"]
    (packs[0] / "evidence_pack.dsse.json").write_bytes(envelope)
    assert verify_json(tmp_path / "ledger")[0] == 0  # without the key it cannot be told
    code, report = verify_json(tmp_path / "ledger", "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "INVALID"
    assert report["checks"]["signatures"]["status"] == "failed"
    _, line, _ = last_line(runner, str(tmp_path / "ledger"), "--key", str(keys.public_path))
    assert line.startswith("NOT VERIFIED — 0 file problems, 1 finding · ")
    assert "signatures FAILED" in line


def test_a_tampered_signed_pack_never_shows_a_plain_valid(
    signed: Path, keys: KeyPair, runner: CliRunner, verify_json: Verify
) -> None:
    (signed / "operator_output.md").write_text("edited after signing\n")
    code, line, stdout = last_line(runner, str(signed), "--key", str(keys.public_path))
    assert code == 1
    assert "Signature: VALID" not in stdout
    assert (
        "Signature: FILES_DIFFER — signed by the trusted key, but the signature covers a "
        "manifest (evidence_pack.json) the files no longer match"
    ) in " ".join(stdout.split())
    assert line == (
        "NOT VERIFIED — 1 file problem, 0 findings · integrity FAILED · completeness "
        "passed · consistency passed · hash chain not applicable · signatures FAILED · "
        "truncation not applicable · reviews none"
    )
    _, report = verify_json(signed, "--key", str(keys.public_path))
    assert report["packs"][0]["signature"]["status"] == "FILES_DIFFER"
    assert report["checks"]["signatures"]["detail"] == (
        "0 signature problems; 1 pack validly signed over a manifest their files no longer match"
    )
    _, unkeyed = verify_json(signed)
    assert unkeyed["packs"][0]["signature"]["detail"] == (
        "not checked (no --key); the statement matches evidence_pack.json, which the files "
        "no longer match"
    )


def test_everything_checked_says_so(
    tmp_path: Path,
    keys: KeyPair,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packs = ledger(tmp_path / "ledger", 2, keys.private_path)
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
    review(runner, packs[1])
    kept = tmp_path / "kept.json"
    key = ("--key", str(keys.public_path))
    code, _, _ = last_line(runner, str(tmp_path / "ledger"), *key, "--write-checkpoint", str(kept))
    assert code == 0
    code, line, _ = last_line(runner, str(tmp_path / "ledger"), *key, "--checkpoint", str(kept))
    assert code == 0
    assert line == (
        f"VERIFIED — 2 packs · {PASSED} · hash chain passed · signatures verified "
        "(trusted key) · truncation passed · reviews authenticated (1)"
    )
    assert json.loads(kept.read_bytes())["checkpoint_version"] == 2


def test_signed_reviews_without_key_are_warned_about(
    tmp_path: Path,
    keys: KeyPair,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    verify_json: Verify,
) -> None:
    packs = ledger(tmp_path / "ledger", 2)
    review(runner, packs[0])  # unsigned
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
    review(runner, packs[1])  # signed
    code, report = verify_json(tmp_path / "ledger")
    assert code == 0
    assert warnings(report) == [
        "1 of 2 reviews carry a signature that was not checked (no --key): the reviews "
        f"are unauthenticated; unsigned reviews beside them: {packs[0].name}"
    ]
    assert [p["review"]["status"] for p in report["packs"]] == ["UNSIGNED", "NOT_CHECKED"]
