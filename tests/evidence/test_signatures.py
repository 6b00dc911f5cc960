"""Signatures: DSSE envelopes over an in-toto Statement, checked only against --key."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.canonical import canonical_json, pack_json
from aiops.cli import app
from aiops.evidence.sign import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    load_private_key,
    make_sealer,
    pae,
)
from aiops.services.keys import KeyPair
from tests.evidence.builders import dry_pack, model_pack, reindex, rewrite_json
from tests.evidence.conftest import Verify, messages


def test_pae_matches_the_dsse_specification_vector() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def _envelope(pack: Path) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads((pack / "evidence_pack.dsse.json").read_bytes())
    return envelope


def _statement(pack: Path) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(base64.b64decode(_envelope(pack)["payload"]))
    return statement


def test_a_signed_pack_carries_an_in_toto_statement_about_every_file(
    signed: Path, keys: KeyPair, verify_json: Verify
) -> None:
    envelope = _envelope(signed)
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert [s["keyid"] for s in envelope["signatures"]] == [keys.keyid]
    statement = _statement(signed)
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    index = json.loads((signed / "evidence_pack.json").read_bytes())
    subjects = {s["name"]: s["digest"] for s in statement["subject"]}
    assert set(subjects) == {"evidence_pack.json"} | {a["name"] for a in index["artifacts"]}
    for artifact in index["artifacts"]:
        assert subjects[artifact["name"]] == artifact["digest"]
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 0
    assert report["packs"][0]["signature"] == {
        "status": "VALID",
        "detail": "signed by the trusted key",
        "keyid": keys.keyid,
    }
    assert report["key_id"] == keys.keyid


def test_without_key_a_present_envelope_is_not_checked_and_does_not_fail(
    signed: Path, verify_json: Verify
) -> None:
    code, report = verify_json(signed)
    assert code == 0
    signature = report["packs"][0]["signature"]
    assert signature["status"] == "NOT_CHECKED"
    assert signature["detail"].startswith("not checked (no --key)")


def test_manifest_rewritten_and_rehashed_without_resigning_is_caught(
    signed: Path, keys: KeyPair, verify_json: Verify
) -> None:
    rewrite_json(
        signed / "run_manifest.json",
        lambda m: m["config"].update(registry_sha256="0" * 64),  # no cross-check covers it
    )
    reindex(signed, "run_manifest.json")
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert any("evidence_pack.json" in m for m in messages(report, "signature"))
    assert not messages(report, "consistency")
    # Without --key the stale statement still disagrees with the pack.
    code, _ = verify_json(signed)
    assert code == 1


def test_unsigned_forgery_that_rewrites_the_index_too_is_not_detectable(
    pack: Path, verify_json: Verify
) -> None:
    """What the checks cannot prove: without a signature (and, for a ledger, a
    checkpoint) whoever can write the pack can rewrite it consistently."""
    rewrite_json(pack / "run_manifest.json", lambda m: m["config"].update(registry_sha256="0" * 64))
    reindex(pack, "run_manifest.json")
    code, _ = verify_json(pack)
    assert code == 0


def test_resigned_with_another_key_is_not_verified(
    signed: Path, keys: KeyPair, other_keys: KeyPair, verify_json: Verify
) -> None:
    seal = make_sealer(load_private_key(other_keys.private_path))
    (signed / "evidence_pack.dsse.json").write_bytes(
        seal((signed / "evidence_pack.json").read_bytes())["evidence_pack.dsse.json"]
    )
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "INVALID"
    assert verify_json(signed, "--key", str(other_keys.public_path))[0] == 0


def test_envelope_deleted_with_key_is_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify
) -> None:
    (signed / "evidence_pack.dsse.json").unlink()
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "MISSING"
    assert verify_json(signed)[0] == 0  # unsigned packs verify without --key


def test_an_unsigned_pack_with_key_is_not_verified(
    pack: Path, keys: KeyPair, verify_json: Verify
) -> None:
    code, report = verify_json(pack, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "MISSING"


def _resign(pack: Path, keys: KeyPair, statement: dict[str, Any]) -> None:
    """Sign an arbitrary statement with the trusted key (an insider's mistake or a
    stale envelope): the signature verifies, the content must not."""
    key = load_private_key(keys.private_path)
    payload = canonical_json(statement)
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {
                "keyid": keys.keyid,
                "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, payload))).decode(),
            }
        ],
    }
    (pack / "evidence_pack.dsse.json").write_bytes(pack_json(envelope))


def test_a_validly_signed_statement_about_another_pack_is_not_verified(
    signed: Path, keys: KeyPair, tmp_path: Path, verify_json: Verify
) -> None:
    other = model_pack(
        tmp_path / "elsewhere" / "other",
        seal=make_sealer(load_private_key(keys.private_path)),
        transcript=False,
    )
    _resign(signed, keys, _statement(other))
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "INVALID"
    assert any("transcript.json" in m for m in messages(report, "signature"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sequence", 99),
        ("sequence", True),  # equal to 1 in Python, not in JSON
        ("evidence_pack_id", "EVP-L2-2000-01-01-099"),
        ("previous_pack_sha256", "0" * 64),
        ("note", "an extra claim"),
    ],
)
def test_a_signed_predicate_that_misstates_the_pack_is_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify, key: str, value: Any
) -> None:
    """Every subject is right, but the signed predicate says something the index does
    not: standard tooling reads the predicate, so it must be exactly the pack's."""
    statement = _statement(signed)
    statement["predicate"][key] = value
    _resign(signed, keys, statement)
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "INVALID"
    assert any("predicate" in m for m in messages(report, "signature"))


@pytest.mark.parametrize(
    "change",
    [
        lambda st: st.update(claims={"approved_by": "risk"}),
        lambda st: st["subject"][0].update(annotations={"approved": True}),
    ],
    ids=["statement-key", "subject-key"],
)
def test_a_signed_statement_saying_more_than_aiops_writes_is_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify, change: Any
) -> None:
    statement = _statement(signed)
    change(statement)
    _resign(signed, keys, statement)
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert report["packs"][0]["signature"]["status"] == "INVALID"


def test_duplicate_subject_names_are_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify
) -> None:
    statement = _statement(signed)
    statement["subject"].append(dict(statement["subject"][1]))
    _resign(signed, keys, statement)
    code, report = verify_json(signed, "--key", str(keys.public_path))
    assert code == 1
    assert any("twice" in m for m in messages(report, "signature"))


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.update(payloadType="application/json"),
        lambda e: e["signatures"][0].update(keyid="0" * 64),
        lambda e: e.update(signatures=[]),
        lambda e: e.update(extra=1),
    ],
    ids=["payload-type", "keyid", "no-signatures", "extra-key"],
)
def test_envelope_tampering_is_not_verified(
    signed: Path, keys: KeyPair, verify_json: Verify, change: Any
) -> None:
    rewrite_json(signed / "evidence_pack.dsse.json", change)
    assert verify_json(signed, "--key", str(keys.public_path))[0] == 1


def test_noncanonical_base64_in_the_envelope_is_rejected(
    signed: Path, keys: KeyPair, verify_json: Verify
) -> None:
    envelope = _envelope(signed)
    sig = envelope["signatures"][0]["sig"]  # 64 bytes: base64 ends in "=="; flip padding bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = sig[-3]
    envelope["signatures"][0]["sig"] = sig[:-3] + alphabet[alphabet.index(last) ^ 1] + "=="
    assert base64.b64decode(envelope["signatures"][0]["sig"]) == base64.b64decode(sig)
    (signed / "evidence_pack.dsse.json").write_bytes(pack_json(envelope))
    assert verify_json(signed, "--key", str(keys.public_path))[0] == 1


def test_dry_run_signs_when_the_signing_key_is_configured(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch, verify_json: Verify
) -> None:
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
    result = CliRunner().invoke(app, ["l2", "dry-run", "--out", "signed-dry"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "signed-dry" / "evidence_pack.dsse.json").is_file()
    assert verify_json(tmp_path / "signed-dry", "--key", str(keys.public_path))[0] == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read signing key"),
        (b"not a key", "not an unencrypted PEM private key"),
    ],
)
def test_a_bad_signing_key_is_exit_2_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, problem: str
) -> None:
    key = tmp_path / "bad.pem"
    if content is not None:
        key.write_bytes(content)
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(key))
    result = CliRunner().invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: ") and problem in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "evidence_packs").exists()


def test_a_public_key_as_signing_key_is_refused(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.public_path))
    result = CliRunner().invoke(app, ["l2", "dry-run"])
    assert result.exit_code == 2
    assert "PEM private key" in result.stderr


def test_keys_generate_writes_a_private_key_only_its_owner_reads(
    tmp_path: Path, runner: CliRunner
) -> None:
    result = runner.invoke(app, ["keys", "generate", "--out-dir", "k"])
    assert result.exit_code == 0, result.stderr
    private = tmp_path / "k" / "aiops_signing_key.pem"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    assert "Key id:" in result.stdout
    assert str(private) not in result.stderr
    again = runner.invoke(app, ["keys", "generate", "--out-dir", "k"])
    assert again.exit_code == 2
    assert "never overwritten" in again.stderr
    assert again.stdout == ""


def test_keys_generate_refuses_when_only_the_public_key_exists(
    tmp_path: Path, runner: CliRunner
) -> None:
    (tmp_path / "aiops_signing_key.pub.pem").write_text("keep me")
    result = runner.invoke(app, ["keys", "generate", "--out-dir", "."])
    assert result.exit_code == 2
    assert not (tmp_path / "aiops_signing_key.pem").exists()
    assert (tmp_path / "aiops_signing_key.pub.pem").read_text() == "keep me"


@pytest.mark.parametrize("content", [None, b"garbage", b"PRIVATE"])
def test_a_bad_trusted_key_is_exit_2(
    tmp_path: Path, runner: CliRunner, keys: KeyPair, content: bytes | None
) -> None:
    pack = dry_pack(tmp_path / "p")
    key = tmp_path / "trusted.pem"
    if content == b"PRIVATE":
        key = keys.private_path
    elif content is not None:
        key.write_bytes(content)
    result = runner.invoke(app, ["verify-pack", str(pack), "--key", str(key)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("aiops: error: ")
