"""Signed reviews: ``aiops review`` with ``AIOPS_SIGNING_KEY`` signs ``review.json`` in
``review.dsse.json``; a forged review (altered, added, deleted, moved, stripped or
re-signed) is caught by ``verify-pack LEDGER --key`` (deletion with a checkpoint) and
is not counted by ``pilot report``."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from typer.testing import CliRunner

from aiops.canonical import pack_json, sha256_hex
from aiops.cli import app
from aiops.evidence.sign import load_private_key, make_review_signer
from aiops.services.keys import KeyPair
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.evidence.builders import ledger
from tests.evidence.conftest import Verify, messages

REVIEW, ENVELOPE = "review.json", "review.dsse.json"


@pytest.fixture
def packs(
    tmp_path: Path, keys: KeyPair, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> list[Path]:
    """Three signed packs; the first approved, the second rejected, both reviews signed
    through ``aiops review``; the third not reviewed."""
    made = ledger(tmp_path / "ledger", 3, keys.private_path)
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
    review(runner, made[0], "--approve", "fine")
    review(runner, made[1], "--reject", "scenarios too narrow")
    monkeypatch.delenv("AIOPS_SIGNING_KEY")
    return made


def review(runner: CliRunner, pack: Path, flag: str, notes: str) -> None:
    result = runner.invoke(app, ["review", str(pack), flag, "--notes", notes, "--reviewer", "op-a"])
    assert result.exit_code == 0, result.output


def edit_review(pack: Path, **changes: Any) -> None:
    doc = json.loads((pack / REVIEW).read_bytes())
    doc.update(changes)
    (pack / REVIEW).write_bytes(pack_json(doc))


def sign_with(keys: KeyPair, pack: Path) -> None:
    """(Re-)sign the pack's review.json as aiops would, with ``keys``."""
    sign = make_review_signer(load_private_key(keys.private_path))
    (pack / ENVELOPE).write_bytes(sign((pack / REVIEW).read_bytes()))


def statement(pack: Path) -> dict[str, Any]:
    envelope = json.loads((pack / ENVELOPE).read_bytes())
    loaded: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return loaded


def review_status(report: dict[str, Any], index: int) -> str:
    status: str = report["packs"][index]["review"]["status"]
    return status


def test_signed_reviews_verify_with_the_key(
    packs: list[Path], keys: KeyPair, verify_json: Verify
) -> None:
    assert sorted(p.name for p in packs[0].iterdir() if p.name.startswith("review")) == [
        ENVELOPE,
        REVIEW,
    ]
    assert not (packs[2] / REVIEW).exists()
    code, report = verify_json(packs[0].parent, "--key", str(keys.public_path))
    assert code == 0, messages(report)
    assert [review_status(report, i) for i in range(3)] == ["VALID", "VALID", "NONE"]
    assert report["packs"][1]["review"]["decision"] == "REJECT"
    assert report["checks"]["reviews"] == {
        "status": "authenticated",
        "detail": "2 reviews, each signed by the trusted key",
    }


def test_the_review_envelope_verifies_independently_of_aiops(
    packs: list[Path], keys: KeyPair
) -> None:
    """DSSE by hand: the PAE recomputed from the spec and the signature checked with
    ``cryptography`` directly; the statement binds every field and both digests."""
    envelope = json.loads((packs[1] / ENVELOPE).read_bytes())
    assert set(envelope) == {"payloadType", "payload", "signatures"}
    payload_type = envelope["payloadType"].encode()
    payload = base64.b64decode(envelope["payload"])
    pae = b" ".join(
        [
            b"DSSEv1",
            str(len(payload_type)).encode(),
            payload_type,
            str(len(payload)).encode(),
            payload,
        ]
    )
    public = load_pem_public_key(keys.public_path.read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    [signature] = envelope["signatures"]
    public.verify(base64.b64decode(signature["sig"]), pae)  # raises when it does not verify
    raw = public.public_bytes_raw()
    assert signature["keyid"] == hashlib.sha256(raw).hexdigest()
    told = json.loads(payload)
    review_bytes = (packs[1] / REVIEW).read_bytes()
    assert told["_type"] == "https://in-toto.io/Statement/v1"
    assert told["predicateType"] == "urn:aiops:predicate:review:v1"
    assert told["subject"] == [
        {
            "name": "evidence_pack.json",
            "digest": {
                "sha256": hashlib.sha256((packs[1] / "evidence_pack.json").read_bytes()).hexdigest()
            },
        },
        {"name": REVIEW, "digest": {"sha256": hashlib.sha256(review_bytes).hexdigest()}},
    ]
    assert told["predicate"] == json.loads(review_bytes)
    assert (told["predicate"]["decision"], told["predicate"]["notes"]) == (
        "REJECT",
        "scenarios too narrow",
    )


Forgery = Callable[[list[Path], KeyPair], object]  # (packs, another key pair)


def _re_sign_altered(packs: list[Path], other: KeyPair) -> None:
    edit_review(packs[1], decision="APPROVE")
    sign_with(other, packs[1])


# Each forgery: the pack it forges, how, the finding verify-pack --key names it by, and
# the start of the pilot report's review KPI detail with the key (never counted).
ONE_COUNTED = "1/3 packs reviewed; 1 invalid (not counted)"
TWO_COUNTED = "2/3 packs reviewed; 1 invalid (not counted)"
FORGERIES: dict[str, tuple[int, Forgery, str, str]] = {
    "reject-to-approve": (
        1,
        lambda p, o: edit_review(p[1], decision="APPROVE"),
        "review.dsse.json: decision: signed 'REJECT', review.json says 'APPROVE'",
        ONE_COUNTED,
    ),
    "another-reviewer": (
        0,
        lambda p, o: edit_review(p[0], reviewer="mallory"),
        "review.dsse.json: reviewer: signed 'op-a', review.json says 'mallory'",
        ONE_COUNTED,
    ),
    "notes": (
        1,
        lambda p, o: edit_review(p[1], notes="all good"),
        "review.dsse.json: notes: signed 'scenarios too narrow', review.json says 'all good'",
        ONE_COUNTED,
    ),
    "times": (
        0,
        lambda p, o: edit_review(p[0], review_ended_at="2026-01-10T12:05:00+00:00"),
        "review.dsse.json: review_ended_at: signed '2026-01-10T12:00:00+00:00', review.json "
        "says '2026-01-10T12:05:00+00:00'",
        ONE_COUNTED,
    ),
    "added-unsigned": (
        2,
        lambda p, o: _copy_review_as_new(p, 0, 2, sign=None),
        "review.json is not signed (review.dsse.json is missing) and --key was given",
        TWO_COUNTED,
    ),
    "added-signed-by-another-key": (
        2,
        lambda p, o: _copy_review_as_new(p, 0, 2, sign=o),
        "review.dsse.json: the review is not signed by the trusted key",
        TWO_COUNTED,
    ),
    "moved-to-another-pack": (
        2,
        lambda p, o: _move(p[0], p[2]),
        "review.dsse.json: the signed review is not about this pack's evidence_pack.json",
        ONE_COUNTED,
    ),
    "envelope-stripped": (
        1,
        lambda p, o: (p[1] / ENVELOPE).unlink(),
        "review.json is not signed (review.dsse.json is missing) and --key was given",
        ONE_COUNTED,
    ),
    "altered-and-re-signed-with-another-key": (
        1,
        _re_sign_altered,
        "review.dsse.json: the review is not signed by the trusted key",
        ONE_COUNTED,
    ),
    "altered-payload-keeping-the-signature": (
        1,
        lambda p, o: _rewrite_payload(p[1]),
        "review.dsse.json: the review is not signed by the trusted key",
        ONE_COUNTED,
    ),
}


def _copy_review_as_new(packs: list[Path], source: int, target: int, sign: KeyPair | None) -> None:
    """A review written for ``target`` (right pack id, run id and hash) by someone
    without the trusted key."""
    index = json.loads((packs[target] / "evidence_pack.json").read_bytes())
    doc = json.loads((packs[source] / REVIEW).read_bytes())
    doc.update(
        evidence_pack_id=index["evidence_pack_id"],
        run_id=index["run_id"],
        evidence_pack_sha256=sha256_hex((packs[target] / "evidence_pack.json").read_bytes()),
    )
    (packs[target] / REVIEW).write_bytes(pack_json(doc))
    if sign is not None:
        sign_with(sign, packs[target])


def _move(source: Path, target: Path) -> None:
    for name in (REVIEW, ENVELOPE):
        (source / name).rename(target / name)


def _rewrite_payload(pack: Path) -> None:
    """review.json and the envelope's statement both say APPROVE; the signature is the
    original one over REJECT."""
    edit_review(pack, decision="APPROVE")
    envelope = json.loads((pack / ENVELOPE).read_bytes())
    told = statement(pack)
    told["predicate"]["decision"] = "APPROVE"
    told["subject"][1]["digest"]["sha256"] = sha256_hex((pack / REVIEW).read_bytes())
    payload = json.dumps(told, sort_keys=True, separators=(",", ":")).encode()
    envelope["payload"] = base64.b64encode(payload).decode()
    (pack / ENVELOPE).write_bytes(pack_json(envelope))


@pytest.mark.parametrize("case", list(FORGERIES))
def test_a_forged_review_is_caught_with_the_key_and_not_counted(
    case: str,
    packs: list[Path],
    keys: KeyPair,
    other_keys: KeyPair,
    runner: CliRunner,
    verify_json: Verify,
) -> None:
    forged, forge, expected, counted = FORGERIES[case]
    forge(packs, other_keys)
    code, report = verify_json(packs[0].parent, "--key", str(keys.public_path))
    assert code == 1
    found = messages(report, "review")
    assert any(m.startswith(expected) for m in found), found
    assert review_status(report, forged) in ("INVALID", "MISSING")
    assert not report["packs"][forged]["verified"]
    assert report["checks"]["reviews"]["status"] == "failed"
    text = runner.invoke(app, ["verify-pack", str(packs[0].parent), "--key", str(keys.public_path)])
    assert text.exit_code == 1
    assert text.stdout.rstrip().splitlines()[-1].endswith("reviews FAILED")
    assert "NOT VERIFIED" in text.stderr and "error" not in text.stderr  # an outcome
    # pilot report with the key: the forged review is not counted
    kpi = _review_kpi(packs[0].parent, keys.public_path)
    assert kpi["detail"].startswith(counted), kpi


def _review_kpi(ledger_dir: Path, key: Path | None) -> dict[str, Any]:
    report = pilot_report(ReportOptions(ledger=ledger_dir, key=key, modes=frozenset({"dry-run"})))
    kpis = report.model_dump()["kpis"]
    kpi: dict[str, Any] = next(k for k in kpis if k["key"] == "review_coverage")
    return kpi


def test_an_unaltered_signed_ledger_counts_both_reviews(packs: list[Path], keys: KeyPair) -> None:
    kpi = _review_kpi(packs[0].parent, keys.public_path)
    assert kpi["detail"] == (
        f"2/3 packs reviewed; each signed by the trusted key {keys.keyid[:16]}"
    )


def test_pilot_report_without_a_key_flags_reviews_unauthenticated(packs: list[Path]) -> None:
    """Without a key, a review added without signature counts (it belongs to its pack),
    but the KPI says no review was authenticated; an edited signed one does not count."""
    _copy_review_as_new(packs, 0, 2, sign=None)
    edit_review(packs[1], decision="APPROVE")
    kpi = _review_kpi(packs[0].parent, None)
    assert kpi["detail"] == (
        "2/3 packs reviewed; 1 invalid (not counted); unauthenticated (no key: review "
        "signatures not checked)"
    )


def test_pilot_report_takes_the_key_from_the_signing_key(
    packs: list[Path], keys: KeyPair, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    _copy_review_as_new(packs, 0, 2, sign=None)
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
    result = runner.invoke(
        app, ["pilot", "report", str(packs[0].parent), "--mode", "dry-run", "--json"]
    )
    assert result.exit_code == 1  # a pack without a review that counts: coverage fails
    report = json.loads(result.stdout)
    kpi = next(k for k in report["kpis"] if k["key"] == "review_coverage")
    assert kpi["detail"].startswith("2/3 packs reviewed; 1 invalid (not counted)")
    assert report["verifier"].startswith(f"verify-pack --key {keys.keyid}")
    completeness = next(k for k in report["kpis"] if k["key"] == "completeness")
    # verified with the key: the pack holding the unsigned review does not verify
    assert (completeness["detail"], completeness["failing_packs"]) == (
        "2/3 packs verify",
        [json.loads((packs[2] / "evidence_pack.json").read_bytes())["evidence_pack_id"]],
    )


@pytest.mark.parametrize("deleted", [(REVIEW, ENVELOPE), (REVIEW,)], ids=["whole", "envelope-left"])
def test_a_deleted_review_needs_a_checkpoint_and_is_then_named(
    deleted: tuple[str, ...],
    packs: list[Path],
    keys: KeyPair,
    runner: CliRunner,
    verify_json: Verify,
    tmp_path: Path,
) -> None:
    """An envelope left without its review.json is also what a signed review killed
    between its two writes leaves: a warning, no review; the checkpoint names the loss."""
    kept = tmp_path / "kept.json"
    ledger_dir = packs[0].parent
    result = runner.invoke(
        app,
        [
            "verify-pack",
            str(ledger_dir),
            "--key",
            str(keys.public_path),
            "--write-checkpoint",
            str(kept),
        ],
    )
    assert result.exit_code == 0, result.stdout
    saved = json.loads(kept.read_bytes())
    assert saved["checkpoint_version"] == 2
    assert [(r["sequence"], r["envelope_sha256"] is not None) for r in saved["reviews"]] == [
        (1, True),
        (2, True),
    ]
    for name in deleted:
        (packs[1] / name).unlink()
    code, report = verify_json(ledger_dir, "--key", str(keys.public_path))
    assert code == 0  # a review deleted leaves an unreviewed pack: the chain cannot tell
    assert report["checks"]["truncation"]["status"] == "not_checked"
    warned = "review.dsse.json without review.json: a signed review that was interrupted"
    assert (warned in json.dumps(report)) == (deleted == (REVIEW,))
    code, report = verify_json(
        ledger_dir, "--key", str(keys.public_path), "--checkpoint", str(kept)
    )
    assert code == 1
    pack_id = json.loads((packs[1] / "evidence_pack.json").read_bytes())["evidence_pack_id"]
    assert messages(report, "review")[-1] == (
        f"the review of {pack_id} (sequence 2) is in the checkpoint but no longer in the "
        "ledger: deleted"
    )
    assert report["findings"][0]["pack"] == packs[1].name
    assert report["checks"]["reviews"]["status"] == "failed"


@pytest.mark.parametrize(
    ("forge", "expected"),
    [
        (
            lambda p, o: (p[1] / ENVELOPE).unlink(),
            "was signed when checkpointed; its signature was removed",
        ),
        (lambda p, o: sign_with(o, p[1]), "carries another signature than the one checkpointed"),
        (lambda p, o: edit_review(p[0], notes="changed"), "differs from the one checkpointed"),
    ],
    ids=["stripped", "re-signed", "altered"],
)
def test_the_checkpoint_names_a_stripped_re_signed_or_altered_review(
    packs: list[Path],
    keys: KeyPair,
    other_keys: KeyPair,
    verify_json: Verify,
    runner: CliRunner,
    tmp_path: Path,
    forge: Callable[[list[Path], KeyPair], None],
    expected: str,
) -> None:
    """Even without --key, the checkpoint keeps what each review was."""
    kept = tmp_path / "kept.json"
    ledger_dir = packs[0].parent
    written = runner.invoke(app, ["verify-pack", str(ledger_dir), "--write-checkpoint", str(kept)])
    assert written.exit_code == 0, written.stdout
    forge(packs, other_keys)
    code, report = verify_json(ledger_dir, "--checkpoint", str(kept))
    assert code == 1
    assert any(expected in m for m in messages(report, "review")), messages(report)


def test_a_version_1_checkpoint_is_still_read(
    packs: list[Path], keys: KeyPair, verify_json: Verify, tmp_path: Path
) -> None:
    head = packs[2]
    kept = tmp_path / "v1.json"
    kept.write_bytes(
        pack_json(
            {
                "checkpoint_version": 1,
                "ledger_size": 3,
                "head_pack_id": json.loads((head / "evidence_pack.json").read_bytes())[
                    "evidence_pack_id"
                ],
                "head_sha256": sha256_hex((head / "evidence_pack.json").read_bytes()),
            }
        )
    )
    for name in (REVIEW, ENVELOPE):
        (packs[1] / name).unlink()
    code, report = verify_json(
        packs[0].parent, "--key", str(keys.public_path), "--checkpoint", str(kept)
    )
    assert code == 0  # a v1 checkpoint records no reviews, and the verdict says so
    assert report["checks"]["truncation"] == {
        "status": "passed",
        "detail": "the ledger still holds the 3 checkpointed packs; this checkpoint (v1) "
        "records no reviews",
    }


@pytest.mark.parametrize(
    "reviews",
    [
        "not-a-list",
        [{"sequence": 1}],
        [
            {
                "sequence": 1,
                "evidence_pack_id": "x",
                "review_sha256": "0" * 64,
                "envelope_sha256": None,
            },
            {
                "sequence": 1,
                "evidence_pack_id": "y",
                "review_sha256": "0" * 64,
                "envelope_sha256": None,
            },
        ],
        [
            {
                "sequence": 1,
                "evidence_pack_id": "x",
                "review_sha256": "0" * 63,
                "envelope_sha256": None,
            }
        ],
    ],
    ids=["not-a-list", "missing-keys", "sequence-twice", "short-digest"],
)
def test_a_malformed_version_2_checkpoint_is_exit_2(
    packs: list[Path], runner: CliRunner, tmp_path: Path, reviews: Any
) -> None:
    kept = tmp_path / "bad.json"
    kept.write_bytes(
        pack_json(
            {
                "checkpoint_version": 2,
                "ledger_size": 3,
                "head_pack_id": "x",
                "head_sha256": "0" * 64,
                "reviews": reviews,
            }
        )
    )
    result = runner.invoke(app, ["verify-pack", str(packs[0].parent), "--checkpoint", str(kept)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"aiops: error: checkpoint {kept} has an invalid review entry\n"


def test_a_bad_signing_key_stops_the_review_before_anything_is_shown(
    packs: list[Path], runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(bad))
    result = runner.invoke(app, ["review", str(packs[2]), "--approve", "--reviewer", "op-b"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"aiops: error: signing key {bad} is not an unencrypted PEM")
    assert not (packs[2] / REVIEW).exists() and not (packs[2] / ENVELOPE).exists()


def test_an_envelope_left_without_its_review_blocks_a_new_review(
    packs: list[Path], runner: CliRunner
) -> None:
    """An interrupted signed write leaves the envelope only: no review is counted and
    none is written over it."""
    shutil.copy(packs[0] / ENVELOPE, packs[2] / ENVELOPE)
    result = runner.invoke(app, ["review", str(packs[2]), "--approve", "--reviewer", "op-b"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"aiops: error: {packs[2] / ENVELOPE} exists; a review is never overwritten\n"
    )


def test_pilot_report_with_an_unreadable_key_is_exit_2(
    packs: list[Path], runner: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such.pub.pem"
    result = runner.invoke(app, ["pilot", "report", str(packs[0].parent), "--key", str(missing)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"aiops: error: cannot read public key {missing}: No such file or directory\n"
    )
