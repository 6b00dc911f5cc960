"""verify-pack re-derives web_sources.json from its raw response items and holds it to
the scope check, the status and the proposer's text: a tampered file, even with its
digest re-recorded in the index, does not verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.web_sources import derive
from aiops.resources import fixtures_dir
from tests.conftest import FakeKeys
from tests.evidence.builders import reindex, rewrite_json
from tests.services.packs import only_pack, read
from tests.support.loopback import LoopbackServer
from tests.support.make_l1_fixture import l2_web_script

WEB_FIXTURE = fixtures_dir() / "transcripts" / "l2_market_outlook_web_sample.json"
SOURCES = "web_sources.json"
OUTSIDE = "https://www.zerohedge.com/markets"


@pytest.fixture
def pack(runner: CliRunner) -> Path:
    result = runner.invoke(app, ["l2", "replay", "--fixture", str(WEB_FIXTURE)])
    assert result.exit_code == 0, result.stderr
    return only_pack()


def _verify(runner: CliRunner, pack: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["verify-pack", str(pack)])
    return result.exit_code, result.stdout


def test_the_web_variant_replays_offline_and_verifies(runner: CliRunner, pack: Path) -> None:
    sources = read(pack, SOURCES)
    assert sources["search_calls"] == 3 and sources["outside"] == 0
    assert [c["url"] for c in sources["citations"]] == [
        "https://www.reuters.com/markets/us/treasury-yields-cpi-preview-2026-01-09/",
        "https://fred.stlouisfed.org/series/DGS10",
    ]
    assert _verify(runner, pack)[0] == 0


def _tamper(pack: Path, change: Any) -> None:
    rewrite_json(pack / SOURCES, change)
    reindex(pack, SOURCES)


def test_a_derived_entry_changed_does_not_verify(runner: CliRunner, pack: Path) -> None:
    def hide(doc: dict[str, Any]) -> None:
        doc["urls"][0]["url"] = OUTSIDE

    _tamper(pack, hide)
    code, out = _verify(runner, pack)
    assert code == 1 and "NOT VERIFIED" in out
    assert "web_sources.json urls differ from what its raw response items give" in out


def test_a_raw_source_swapped_for_one_outside_does_not_verify(
    runner: CliRunner, pack: Path
) -> None:
    """Raw and derived parts rewritten together: the scope check and the COMPLETED
    status no longer tell the same story."""

    def swap(doc: dict[str, Any]) -> None:
        doc["raw"]["web_search_calls"][0]["action"]["sources"][0]["url"] = OUTSIDE
        doc.update(derive(doc["raw"], doc["allowed_domains"]))

    _tamper(pack, swap)
    code, out = _verify(runner, pack)
    assert code == 1
    assert "outside the allow-list but the pack is COMPLETED" in out
    assert "web.sources_in_allow_list does not match web_sources.json" in out


def test_a_widened_allow_list_does_not_verify(runner: CliRunner, pack: Path) -> None:
    def widen(doc: dict[str, Any]) -> None:
        doc["allowed_domains"].append("zerohedge.com")

    _tamper(pack, widen)
    code, out = _verify(runner, pack)
    assert code == 1
    assert "allowed_domains are not the translation of scope_domains" in out


def test_a_citation_pointing_past_the_text_does_not_verify(runner: CliRunner, pack: Path) -> None:
    def stretch(doc: dict[str, Any]) -> None:
        doc["raw"]["annotations"][0][0]["end_index"] = 10**6
        doc.update(derive(doc["raw"], doc["allowed_domains"]))

    _tamper(pack, stretch)
    code, out = _verify(runner, pack)
    assert code == 1 and "points outside the proposer's text" in out


def test_a_sources_file_removed_does_not_verify(runner: CliRunner, pack: Path) -> None:
    (pack / SOURCES).unlink()

    def drop(doc: dict[str, Any]) -> None:
        doc["artifacts"] = [a for a in doc["artifacts"] if a["name"] != SOURCES]

    rewrite_json(pack / "evidence_pack.json", drop)
    rewrite_json(
        pack / "run_manifest.json",
        lambda doc: doc.update(artifacts=[a for a in doc["artifacts"] if a != SOURCES]),
    )
    reindex(pack, "run_manifest.json")
    code, out = _verify(runner, pack)
    assert code == 1
    assert "checks web sources but the pack has no web_sources.json" in out


def test_an_unknown_key_is_refused_by_the_schema(runner: CliRunner, pack: Path) -> None:
    _tamper(pack, lambda doc: doc.update(note="trust me"))
    code, out = _verify(runner, pack)
    assert code == 1 and "web_sources.json" in out


def test_a_record_pack_binds_the_raw_items_to_its_transcript(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    """In a record pack the raw response is in transcript.json too: raw items swapped
    for others inside the allow-list (and every derived field rewritten to match) are
    caught there."""
    l2_web_script(loopback)
    result = runner.invoke(
        app, ["l2", "record", "--allow-network", "--yes", "--fixture", "web.json"]
    )
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    assert _verify(runner, pack)[0] == 0

    def swap(doc: dict[str, Any]) -> None:
        source = doc["raw"]["web_search_calls"][0]["action"]["sources"][0]
        source["url"] = "https://www.reuters.com/a-page-never-read"
        doc.update(derive(doc["raw"], doc["allowed_domains"]))

    _tamper(pack, swap)
    code, out = _verify(runner, pack)
    assert code == 1
    assert "web_sources.json raw items differ from the response in transcript.json" in out
