"""L1 Deep Research live on loopback (deep-research answers with searches and
citations, an o3-pro critic) and its refusals."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.services.packs import only_pack, read
from tests.support import research_sample
from tests.support.loopback import RESPONSES_PATH, Captured, LoopbackServer, Reply
from tests.support.make_l1_fixture import l1_critic_reply, l1_proposer_reply, l1_script

LIVE = ["l1", "live", "--allow-network", "--yes"]
L1_DOMAINS = ["arxiv.org", "ssrn.com", "nber.org", "bis.org", "federalreserve.gov"]


def test_l1_live_sends_the_tool_and_completes(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    l1_script(loopback)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert loopback.problems == []
    posts = [r for r in loopback.requests if r.method == "POST"]
    proposer, critic = posts[0].body, posts[1].body
    assert proposer["model"] == "o3-deep-research" and proposer["background"] is True
    assert proposer["tools"] == [{"type": "web_search", "filters": {"allowed_domains": L1_DOMAINS}}]
    assert proposer["max_tool_calls"] == 30
    assert "text" not in proposer  # deep research takes the schema in the prompt
    assert "ResearchBrief" in proposer["instructions"]
    assert "term premium" in proposer["input"]  # the shipped sample question
    assert critic["model"] == "o3-pro" and "tools" not in critic
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "COMPLETED"
    sources = read(pack, "web_sources.json")
    assert sources["search_calls"] == 9 and len(sources["citations"]) == 5
    cost = read(pack, "proposer_output.json")["cost_usd"]
    assert cost == round((48211 * 0.010 + 9377 * 0.040) / 1000 + 9 * 0.010, 6)


def test_a_finding_without_citations_blocks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    brief = research_sample.brief()
    brief["outputs"][0]["findings"][3]["citations"] = []
    text = research_sample.brief_text(brief)

    def handle(captured: Captured) -> Reply:
        if captured.body.get("model") == "o3-pro":
            return l1_critic_reply(captured)
        return l1_proposer_reply(text)

    loopback.script(RESPONSES_PATH, handle)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert "finding_without_citation" in result.stderr
    scope = read(only_pack(), "capability_scope_check.json")
    assert [(v["rule"], v["location"]) for v in scope["violations"]] == [
        ("finding_without_citation", "$.outputs[0].findings[3]")
    ]


def test_deep_research_under_a_scope_without_web_is_a_config_error(
    runner: CliRunner, config_copy: Path
) -> None:
    scope = config_copy / "capability_scopes" / "L1_deep_research.toml"
    text = scope.read_text().replace('allowed = ["files", "web"]', 'allowed = ["files"]')
    scope.write_text(text)
    result = runner.invoke(app, ["--config-dir", str(config_copy), "l1", "dry-run"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "model o3-deep-research requires the web_search tool but scope L1_deep_research" in (
        result.stderr
    )
