"""What the pilot report keeps of each pack (``PackFacts``) and how it is taken back from
the cache: the same facts as read from the pack, for every kind of pack a pilot holds;
drift kept by content and computed again, from the verified bytes, whenever the
baseline or an answer is not in it; a report from the cache equal to one that reads
every pack."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.errors import PackReadError
from aiops.evidence.chain import verify_ledger
from aiops.evidence.names import PROPOSER_OUTPUT_FILE, RUN_MANIFEST_FILE
from aiops.evidence.reader import load_pack
from aiops.schemas.pilot import PilotReport
from aiops.services import file_stamps, pilot_baseline, pilot_drift
from aiops.services import pilot_report as report_service
from aiops.services.pilot_facts import PackFacts
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.support.pilot_live import LivePilot

EVERY_MODE = frozenset({"live", "replay", "dry-run"})


@pytest.fixture
def written_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches are written 10 s after the ledger: their entries are not racy."""
    monkeypatch.setattr(file_stamps, "now_ns", lambda: time.time_ns() + 10_000_000_000)


@pytest.fixture
def live_ledger(live_pilot: LivePilot, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger"
    shutil.copytree(live_pilot.live[1].parent, copy)
    return copy


def report(ledger: Path, use_cache: bool = True, baseline: Path | None = None) -> PilotReport:
    options = ReportOptions(ledger=ledger, modes=EVERY_MODE, use_cache=use_cache, baseline=baseline)
    return pilot_report(options)


def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each answer compared with the baseline's from now on (one entry per comparison)."""
    compared: list[int] = []
    original = pilot_drift.AnswerComparer.token_drift

    def counted(self: pilot_drift.AnswerComparer, answer: dict[str, object]) -> float:
        compared.append(1)
        return original(self, answer)

    monkeypatch.setattr(pilot_drift.AnswerComparer, "token_drift", counted)
    return compared


def verdict(result: PilotReport) -> dict[str, object]:
    return result.model_dump(exclude={"generated_at", "completeness_basis"})


def facts_as_read(ledger: Path) -> dict[str, PackFacts]:
    """Each pack's facts from verify-pack's reading of it now (no cache)."""
    read = report_service._read_ledger(ledger, None, use_cache=False)
    return {p.path.name: p.facts for p in read.packs if p.facts is not None}


def test_facts_survive_the_cache_form_for_every_kind_of_pack(live_ledger: Path) -> None:
    facts = facts_as_read(live_ledger)
    kinds = {(f.mode, f.status, f.proposer_answered) for f in facts.values()}
    assert len(facts) == len(list(live_ledger.iterdir()))
    assert {("live", "FAILED", False), ("live", "BLOCKED", True)} <= kinds  # outage, scope
    assert {("replay", "COMPLETED", True), ("dry-run", "COMPLETED", False)} <= kinds
    assert any(f.fallback for f in facts.values())
    assert any(f.served for f in facts.values())
    assert any(f.review is not None and f.review.interactive for f in facts.values())
    for name, one in facts.items():
        again = PackFacts.from_json(json.loads(json.dumps(one.to_json())))
        assert again == one, name


def test_a_reviewing_pack_keeps_its_governance_verdict(runner: CliRunner) -> None:
    for args in (
        ["l2", "replay"],
        ["l4", "replay", "--input-pack", "EVP-L2-2026-01-10-001"],
    ):
        assert runner.invoke(app, args).exit_code == 0
    facts = facts_as_read(Path("evidence_packs"))
    (l4,) = (f for f in facts.values() if f.layer_id == "L4")
    (l2,) = (f for f in facts.values() if f.layer_id == "L2")
    assert l4.governance_manifest is not None
    assert l4.governance_manifest["governance_verdict"]["reviewed_pack_id"] == l2.pack_id
    assert l2.governance_manifest is None and l2.manifest_read
    assert PackFacts.from_json(json.loads(json.dumps(l4.to_json()))) == l4
    rows = report(Path("evidence_packs")).pack_rows
    assert [r.governance_verdict for r in rows if r.pack_id == l2.pack_id] == ["ALLOW"]


@pytest.mark.usefixtures("written_later")
def test_a_report_from_the_caches_reads_no_answer_and_equals_one_that_reads_every_pack(
    live_ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = report(live_ledger, use_cache=False)
    report(live_ledger)  # fills both caches

    def refuse(*_: object) -> None:
        raise AssertionError("an answer was read or compared again")

    monkeypatch.setattr(report_service, "_read_answer", refuse)
    monkeypatch.setattr(pilot_baseline, "AnswerComparer", refuse)
    warm = report(live_ledger)
    assert warm.completeness_basis is not None and warm.completeness_basis.verified_now == 0
    assert verdict(warm) == verdict(fresh)
    assert any(row.drift_pct for row in warm.pack_rows)


@pytest.mark.usefixtures("written_later")
def test_without_the_drift_cache_answers_are_read_again_from_the_verified_bytes(
    live_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = report(live_ledger, use_cache=False)
    report(live_ledger)
    shutil.rmtree(tmp_path / "user-cache" / "aiops" / "drift")
    read: list[str] = []
    original = report_service._read_answer

    def counted(path: Path, facts: PackFacts) -> dict[str, object]:
        read.append(path.name)
        return original(path, facts)

    monkeypatch.setattr(report_service, "_read_answer", counted)
    warm = report(live_ledger)
    assert read  # the facts came from the cache: the answers were read from the packs
    assert len(read) == len(set(read))
    assert verdict(warm) == verdict(fresh)


@pytest.mark.usefixtures("written_later")
def test_another_baseline_is_compared_now_and_matches_a_report_that_reads_every_pack(
    live_ledger: Path, live_pilot: LivePilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = report(live_ledger)
    baseline = live_ledger / live_pilot.live[10].name  # another answer: 66 words changed
    compared = comparisons(monkeypatch)
    warm = report(live_ledger, baseline=baseline)
    assert compared
    assert warm.baseline_pack_id == load_pack(baseline).index.evidence_pack_id
    assert warm.baseline_pack_id != first.baseline_pack_id
    assert verdict(warm) == verdict(report(live_ledger, use_cache=False, baseline=baseline))


@pytest.mark.usefixtures("written_later")
def test_an_answer_changed_after_the_pack_was_taken_from_the_cache_stops_the_report(
    live_ledger: Path, live_pilot: LivePilot
) -> None:
    report(live_ledger)
    read = report_service._read_ledger(live_ledger, None)
    assert read.use.verified_now == 0
    first = next(p for p in read.packs if p.facts is not None and p.facts.proposer_answered)
    assert first.facts is not None
    answer = first.path / PROPOSER_OUTPUT_FILE
    answer.write_bytes(answer.read_bytes().replace(b'"completed"', b'"completed" ', 1))
    with pytest.raises(PackReadError, match="changed while the report was made"):
        read.answer_of(first.facts)


@pytest.mark.usefixtures("written_later")
def test_a_manifest_that_does_not_verify_is_read_by_the_governance_listing(
    live_ledger: Path,
) -> None:
    """A pack whose manifest did not verify keeps no manifest in its facts: the verdict
    listing reads it from the pack (and finds none), as it did before facts were kept."""
    victim = sorted(live_ledger.iterdir())[2]
    manifest = victim / RUN_MANIFEST_FILE
    manifest.write_bytes(manifest.read_bytes() + b" ")
    facts = facts_as_read(live_ledger)
    assert not facts[victim.name].manifest_read
    assert not verify_ledger(live_ledger).verified
    assert verdict(report(live_ledger)) == verdict(report(live_ledger, use_cache=False))


@pytest.mark.usefixtures("written_later")
def test_no_cache_compares_every_answer_now_and_leaves_the_drift_cache(
    live_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = report(live_ledger)
    (kept,) = (tmp_path / "user-cache" / "aiops" / "drift").glob("*.json")
    before = kept.read_bytes()
    compared = comparisons(monkeypatch)
    fresh = report(live_ledger, use_cache=False)
    # every distinct answer compared now (the same answer in two packs, once)
    answers = {f.proposer_sha256 for f in facts_as_read(live_ledger).values()}
    assert 1 < len(compared) <= len(answers)
    assert kept.read_bytes() == before
    assert verdict(fresh) == verdict(cached)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("calls", 0, 2), "48213"),  # a latency as text
        (("calls", 0, 4), [2817]),  # usage without its output tokens
        (("calls", 0, 5), 1),  # answered as a number
        (("served", 0, 3), 3),  # an expected model that is no text
        (("review", 2), "yes"),  # interactive as text
        (("sod",), "PASS"),
        (("governance",), []),
        (("prompt",), ["l2_market_outlook"]),
    ],
)
def test_facts_of_the_wrong_type_are_refused(
    live_ledger: Path, where: tuple[object, ...], value: object
) -> None:
    """A cache entry whose facts are not of the form written is not used (the pack is
    verified and read again): every value is checked, not only the shape."""
    facts = facts_as_read(live_ledger)
    one = next(f for f in facts.values() if f.review is not None and f.served)
    doc = json.loads(json.dumps(one.to_json()))
    target = doc
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises((KeyError, TypeError, ValueError)):
        PackFacts.from_json(doc)
