"""The pilot report's cache of packs verified earlier: used only for a pack whose every
entry is unchanged (a restored modification time is still a change), never trusted when
racy, corrupt or kept under another version, schema set or key; ``--no-cache``
verifies every pack now."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.chain import verify_ledger
from aiops.evidence.sign import TrustedKey
from aiops.schemas.pilot import PilotReport
from aiops.services import file_stamps, verify_cache
from aiops.services import pilot_report as report_service
from aiops.services.pilot_facts import FACTS_VERSION
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.support.pilot import MISPLACED_REVIEW_DAY, TAMPERED_DAY

REPLAY = frozenset({"replay"})
FAILING = 2  # the tampered pack and the one holding another pack's review: never kept
FACTS: verify_cache.Derivation[object] = verify_cache.Derivation(
    FACTS_VERSION, lambda *_: None, lambda value: value, lambda doc: doc
)


@pytest.fixture
def ledger(pilot_ledger: dict[int, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "ledger"
    shutil.copytree(pilot_ledger[1].parent, copy)
    return copy


@pytest.fixture
def written_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is written 10 s after the ledger: its entries are not racy."""
    monkeypatch.setattr(file_stamps, "now_ns", lambda: time.time_ns() + 10_000_000_000)


def report(ledger: Path, use_cache: bool = True) -> PilotReport:
    return pilot_report(ReportOptions(ledger=ledger, modes=REPLAY, use_cache=use_cache))


def counts(result: PilotReport) -> tuple[int, int]:
    basis = result.completeness_basis
    assert basis is not None
    return basis.unchanged, basis.verified_now


def cache_file(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "user-cache" / "aiops" / "verify").glob("*.json")
    return found


def verdict(result: PilotReport) -> dict[str, object]:
    return result.model_dump(exclude={"generated_at", "completeness_basis"})


def failing(result: PilotReport) -> list[str]:
    return next(k for k in result.kpis if k.key == "completeness").failing_packs


@pytest.mark.usefixtures("written_later")
def test_unchanged_packs_are_taken_from_the_cache_with_the_same_verdict(ledger: Path) -> None:
    cold = report(ledger)
    assert counts(cold) == (0, 30)
    warm = report(ledger)
    assert counts(warm) == (30 - FAILING, FAILING)  # a failure is verified every time
    assert verdict(warm) == verdict(cold)
    assert [pid[-3:] for pid in failing(warm)] == [
        f"{TAMPERED_DAY:03d}",
        f"{MISPLACED_REVIEW_DAY:03d}",
    ]
    assert warm.completeness_basis is not None
    assert warm.completeness_basis.statement == (
        "verify-pack: 30 packs, 28 unchanged since their last full verification, 2 verified now"
    )


@pytest.mark.usefixtures("written_later")
def test_an_edited_file_is_caught_though_its_modification_time_is_restored(
    ledger: Path, pilot_ledger: dict[int, Path]
) -> None:
    report(ledger)
    edited = ledger / pilot_ledger[3].name / "proposer_output.json"
    before = os.stat(edited)
    data = edited.read_bytes()
    edited.write_bytes(data.replace(b"e", b"a", 1))  # same size, other content
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(edited).st_mtime_ns == before.st_mtime_ns
    warm = report(ledger)
    assert counts(warm) == (30 - FAILING - 1, FAILING + 1)
    assert len(failing(warm)) == FAILING + 1
    assert any(pid.endswith("-003") for pid in failing(warm))


@pytest.mark.usefixtures("written_later")
def test_a_file_added_to_a_pack_is_caught(ledger: Path, pilot_ledger: dict[int, Path]) -> None:
    report(ledger)
    (ledger / pilot_ledger[4].name / "notes.txt").write_text("added later\n")
    warm = report(ledger)
    assert counts(warm) == (30 - FAILING - 1, FAILING + 1)
    assert any(pid.endswith("-004") for pid in failing(warm))


@pytest.mark.usefixtures("written_later")
def test_a_corrupt_cache_is_ignored_and_rebuilt(ledger: Path, tmp_path: Path) -> None:
    cold = report(ledger)
    cache_file(tmp_path).write_bytes(b'{"version": 1, "entries": {')
    assert counts(report(ledger)) == (0, 30)
    assert len(json.loads(cache_file(tmp_path).read_bytes())["entries"]) == 30 - FAILING
    assert counts(report(ledger)) == (30 - FAILING, FAILING)
    # an entry that reads but is no verified pack, or holds no facts, is not used
    document = json.loads(cache_file(tmp_path).read_bytes())
    first, second, third = (document["entries"][n] for n in sorted(document["entries"])[:3])
    first[1][0] = []  # no file results: not a verified pack
    del second[1][3]["status"]  # a review result without its status
    third[2]["seq"] = "3"  # facts whose sequence is no integer
    cache_file(tmp_path).write_text(json.dumps(document))
    warm = report(ledger)
    assert counts(warm) == (30 - FAILING - 3, FAILING + 3)
    assert verdict(warm) == verdict(cold)


@pytest.mark.usefixtures("written_later")
@pytest.mark.parametrize("change", ["version", "schemas", "facts"])
def test_another_version_schema_set_or_form_of_facts_is_a_cold_cache(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    report(ledger)
    if change == "version":
        monkeypatch.setattr(verify_cache, "__version__", "0.0.0+other")
    elif change == "schemas":
        monkeypatch.setattr(verify_cache, "_schema_set", lambda: "another schema set")
    else:
        monkeypatch.setattr(report_service, "FACTS_VERSION", "pilot-facts-0")
    assert counts(report(ledger)) == (0, 30)


@pytest.mark.usefixtures("written_later")
def test_another_trusted_key_is_a_cold_cache(ledger: Path) -> None:
    report(ledger)
    assert len(verify_cache._VerifyCache(ledger, None, FACTS).entries) == 30 - FAILING
    key = Ed25519PrivateKey.generate().public_key()
    assert verify_cache._VerifyCache(ledger, TrustedKey("some-key", key), FACTS).entries == {}


def test_racy_entries_are_not_trusted(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The copy was just written: within 2 s of the cache, every entry is racy.
    report(ledger)
    assert counts(report(ledger)) == (0, 30)
    monkeypatch.setattr(file_stamps, "now_ns", lambda: time.time_ns() + 10_000_000_000)
    report(ledger)  # rewritten: the entries are no longer racy
    assert counts(report(ledger)) == (30 - FAILING, FAILING)


@pytest.mark.usefixtures("written_later")
def test_no_cache_verifies_every_pack(ledger: Path, tmp_path: Path) -> None:
    report(ledger)
    args = ["pilot", "report", str(ledger), "--mode", "replay", "--json"]
    result = CliRunner().invoke(app, [*args, "--no-cache"])
    assert result.exit_code == 1, result.output  # the ledger fails KPIs by design
    basis = json.loads(result.stdout)["completeness_basis"]
    assert basis == {
        "packs": 30,
        "unchanged": 0,
        "verified_now": 30,
        "cache_used": False,
        "statement": "verify-pack: 30 packs, all verified now (cache not used)",
    }
    result = CliRunner().invoke(app, args)
    assert json.loads(result.stdout)["completeness_basis"]["unchanged"] == 30 - FAILING
    assert "aiops: pilot KPIs not met" in result.stderr


@pytest.mark.usefixtures("written_later")
def test_the_screen_and_the_html_say_how_completeness_was_established(
    ledger: Path, tmp_path: Path
) -> None:
    report(ledger)
    html = tmp_path / "pilot.html"
    args = ["pilot", "report", str(ledger), "--mode", "replay", "--html", str(html)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "28 unchanged since their last full verification" in " ".join(result.stdout.split())
    assert "verify-pack: 30 packs, 28 unchanged since their last full verification, 2 " in (
        html.read_text()
    )


def test_a_verified_pack_report_survives_the_cache_form(ledger: Path) -> None:
    """What the cache keeps of a verified pack is its whole verify-pack result: every
    file result (the recorded size and digest folded when equal), finding, signature,
    review and chain link read back equal."""
    report_ = verify_ledger(ledger)
    verified = [p for p in report_.packs if p.verified]
    assert len(verified) == 30 - FAILING
    for pack in verified:
        kept = json.loads(json.dumps(verify_cache._report_json(pack)))
        assert verify_cache._pack_report(ledger, pack.dir_name, kept) == pack


@pytest.mark.usefixtures("written_later")
def test_a_few_changed_packs_are_written_beside_the_full_cache_not_into_it(
    ledger: Path, tmp_path: Path, pilot_ledger: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = report(ledger)
    full = cache_file(tmp_path)
    written = full.read_bytes()
    edited = ledger / pilot_ledger[3].name / "proposer_output.json"
    data = edited.read_bytes()
    edited.unlink()
    edited.write_bytes(data)  # the same bytes: verified again, kept again
    assert counts(report(ledger)) == (30 - FAILING - 1, FAILING + 1)
    assert full.read_bytes() == written  # the full file as it was
    delta = json.loads(full.with_suffix(".delta").read_bytes())
    assert list(delta["entries"]) == [pilot_ledger[3].name]
    warm = report(ledger)  # the full file and its delta together
    assert counts(warm) == (30 - FAILING, FAILING)
    assert verdict(warm) == verdict(cold)
    # Many changes: one full file again, no delta.
    monkeypatch.setattr(verify_cache, "DELTA_MIN", 0)
    for day in (4, 5, 6, 7):
        edited = ledger / pilot_ledger[day].name / "proposer_output.json"
        data = edited.read_bytes()
        edited.unlink()
        edited.write_bytes(data)
    assert counts(report(ledger)) == (30 - FAILING - 4, FAILING + 4)
    assert full.read_bytes() != written and not full.with_suffix(".delta").exists()
    assert counts(report(ledger)) == (30 - FAILING, FAILING)


@pytest.mark.usefixtures("written_later")
def test_a_delta_written_for_another_full_cache_is_not_used(
    ledger: Path, tmp_path: Path, pilot_ledger: dict[int, Path]
) -> None:
    report(ledger)
    edited = ledger / pilot_ledger[3].name / "proposer_output.json"
    data = edited.read_bytes()
    edited.unlink()
    edited.write_bytes(data)
    report(ledger)
    delta_file = cache_file(tmp_path).with_suffix(".delta")
    delta = json.loads(delta_file.read_bytes())
    delta["full_written_ns"] += 1  # as if the full file had been written again since
    delta_file.write_text(json.dumps(delta))
    assert counts(report(ledger)) == (30 - FAILING - 1, FAILING + 1)
