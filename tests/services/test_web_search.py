"""Web search under the capability scope, end to end through the CLI against the
loopback server (answers built from the official ``openai`` types): the request
carries the scope's translated allow-list; every consulted and cited URL is checked
after host normalisation (BLOCKED outside, COMPLETED inside); the hourly search limit
holds across concurrent runs; searches count in the worst case and the actual cost."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.governance.web_rate import WebSearchLimitError, reserve, settle, window_path
from tests.conftest import FakeKeys
from tests.services.packs import only_pack, read
from tests.support import research_sample, sample
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply
from tests.support.registry_edit import set_keys
from tests.support.scripts import critic_handler
from tests.support.web import open_page, search_call, web_answer

LIVE = ["l2", "live", "--allow-network", "--yes"]
INSIDE = "https://www.reuters.com/markets/us/cpi-preview/"
L2_DOMAINS = [
    "tradingeconomics.com",
    "fred.stlouisfed.org",
    "investing.com",
    "bloomberg.com",
    "reuters.com",
]


def _script(loopback: LoopbackServer, consulted: list[str], cited: list[str]) -> None:
    """The sample outlook, with ``cited`` named in its text and cited, after one search
    returning ``consulted``."""
    outputs = sample.proposer_outputs()
    outputs["outputs"][3]["rationale"] += " Sources: " + " ".join(cited)
    text = sample.proposer_text(outputs)
    calls = [search_call(1, ["US CPI preview"], consulted)] if consulted else []
    body = web_answer(text, calls, [(url, "a page") for url in cited])
    loopback.script(RESPONSES_PATH, Reply(body=body))
    loopback.script(CHAT_PATH, critic_handler())


def test_the_request_carries_the_translated_allow_list_and_asks_for_sources(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _script(loopback, [INSIDE], [INSIDE])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert loopback.problems == []  # every body valid for the official request types
    proposer, critic = loopback.requests[0].body, loopback.requests[1].body
    assert proposer["tools"] == [{"type": "web_search", "filters": {"allowed_domains": L2_DOMAINS}}]
    assert proposer["include"] == ["web_search_call.action.sources"]
    assert proposer["max_tool_calls"] == 5
    assert "tools" not in critic  # the critic never searches
    pack = only_pack()
    sources = read(pack, "web_sources.json")
    assert sources["urls"] == [
        {
            "url": INSIDE,
            "host": "www.reuters.com",
            "allowed": True,
            "consulted": True,
            "cited": True,
        }
    ]
    assert read(pack, "evidence_pack.json")["status"] == "COMPLETED"
    report = (pack / "operator_output.md").read_text()
    assert f"- <{INSIDE}> (cited and consulted; in scope)" in report


TRICKS = [
    "https://evil.com/reuters.com/markets",
    "https://reuters.com.evil.com/markets",
    "https://user@reuters.com@evil.com/markets",
    "https://www.xn--reuters-9ya.com/markets",  # punycode look-alike
    "https://www.reutеrs.com/markets",  # Cyrillic e: IDNA gives a different host
    "https://evil.com\\@reuters.com/markets",
    "http://203.0.113.7/reuters.com",
    "https://reuters.co/markets",
    "javascript:alert('reuters.com')",
]


@pytest.mark.parametrize("url", TRICKS)
def test_a_cited_url_outside_the_allow_list_blocks(
    url: str, runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _script(loopback, [INSIDE], [url])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2, result.stderr
    assert "BLOCKED" in result.stdout
    assert "web_source_outside_allow_list" in result.stderr
    pack = only_pack()
    scope = read(pack, "capability_scope_check.json")
    violations = [v for v in scope["violations"] if v["rule"] == "web_source_outside_allow_list"]
    assert [v["location"] for v in violations] == [f"web.cited: {url}"]
    assert read(pack, "evidence_pack.json")["status"] == "BLOCKED"
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://WWW.Reuters.COM./markets/x",  # upper case, trailing dot
        "https://reuters.com:443/markets/x",  # port
        "https://nobody@www.reuters.com/markets/x",  # userinfo, host still reuters
        "https://fred.stlouisfed.org/series/DGS10",  # *.fred.stlouisfed.org: the apex too
    ],
)
def test_a_normalised_host_inside_the_allow_list_completes(
    url: str, runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _script(loopback, [url], [url])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert read(only_pack(), "evidence_pack.json")["status"] == "COMPLETED"


def test_a_consulted_but_uncited_url_outside_blocks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    outside = "https://www.zerohedge.com/markets/cpi"
    _script(loopback, [INSIDE, outside], [INSIDE])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    scope = read(only_pack(), "capability_scope_check.json")
    assert [v["location"] for v in scope["violations"]] == [f"web.consulted: {outside}"]


def test_a_page_opened_outside_blocks(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    outputs = sample.proposer_text()
    body = web_answer(outputs, [open_page(2, "https://evil.example/reuters.com")], [])
    loopback.script(RESPONSES_PATH, Reply(body=body))
    loopback.script(CHAT_PATH, critic_handler())
    assert runner.invoke(app, LIVE).exit_code == 2
    assert read(only_pack(), "evidence_pack.json")["status"] == "BLOCKED"


# --- cost: the worst case and what was spent ---------------------------------------------


def test_searches_count_in_the_actual_cost(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    text = research_sample.l2_web_text()
    calls = research_sample.l2_web_calls()  # three web_search_call items
    usage = (9412, 2211, 1024)
    body = web_answer(text, calls, research_sample.L2_CITED, usage=usage)
    loopback.script(RESPONSES_PATH, Reply(body=body))
    loopback.script(CHAT_PATH, critic_handler())
    assert runner.invoke(app, LIVE).exit_code == 0
    proposer = read(only_pack(), "proposer_output.json")
    tokens = (9412 * 0.021 + 2211 * 0.168) / 1000
    assert proposer["cost_usd"] == round(tokens + 3 * 10.0 / 1000, 6)
    spent = [
        json.loads(line)
        for line in (Path("user-state") / "aiops" / "logs" / "spend_ledger.jsonl")
        .read_text()
        .splitlines()
    ]
    proposer_lines = [s for s in spent if s["kind"] == "spend" and s["model_id"] == "gpt-5.2-pro"]
    assert proposer_lines[0]["cost_usd"] == round(tokens + 0.03, 6)


def test_the_worst_case_includes_the_most_searches_a_call_may_make() -> None:
    from aiops.configuration import load_config
    from aiops.governance.budget import worst_case_cost
    from aiops.governance.web_config import web_search_for
    from aiops.providers.base import ModelRequest

    config = load_config()
    model = config.registry.models["gpt-5.2-pro"]
    scope = config.scope_for("L2")
    plain = ModelRequest(
        role="proposer",
        model_id="gpt-5.2-pro",
        model=model,
        provider_id="openai",
        provider=config.registry.providers["openai"],
        system_prompt="s",
        user_prompt="u",
        output_schema=None,
        schema_name="x",
        max_output_tokens=1000,
    )
    from dataclasses import replace

    searching = replace(plain, web=web_search_for(scope, model))
    assert searching.web is not None and searching.web.max_calls == 5
    assert worst_case_cost(searching) - worst_case_cost(plain) == pytest.approx(5 * 10.0 / 1000)


def test_the_banner_worst_case_includes_searches(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    _script(loopback, [INSIDE], [INSIDE])
    with_search = runner.invoke(app, LIVE).stderr
    set_keys(fast_config, 'models."gpt-5.2-pro"', cost_per_1k_web_searches=0.0)
    set_keys(fast_config, 'models."gpt-5.2"', cost_per_1k_web_searches=0.0)
    _script(loopback, [INSIDE], [INSIDE])
    without = runner.invoke(app, [*LIVE, "--out", "second"]).stderr

    def worst(text: str) -> float:
        marker = "worst case $"
        return float(text[text.index(marker) + len(marker) :].split(";")[0].split()[0])

    # Two proposer candidates (gpt-5.2-pro, gpt-5.2), each up to 5 searches at $10/1,000.
    assert worst(with_search) - worst(without) == pytest.approx(0.1, abs=0.011)


# --- the hourly limit ---------------------------------------------------------------------


def _take(args: tuple[str, int]) -> bool:
    path, count = args
    try:
        reserve(Path(path), 20, count)
    except WebSearchLimitError:
        return False
    return True


def test_the_hourly_limit_holds_across_concurrent_processes(tmp_path: Path) -> None:
    path = window_path(tmp_path, "L2_market_outlook")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        taken = pool.map(_take, [(str(path), 5)] * 8)
    assert sum(taken) == 4  # 4 x 5 = the 20 searches an hour allows
    assert sum(e["n"] for e in json.loads(path.read_text())["window"]) == 20


def test_settling_frees_what_a_call_did_not_search(tmp_path: Path) -> None:
    path = window_path(tmp_path, "L2")
    hold = reserve(path, 20, 15)
    with pytest.raises(WebSearchLimitError):
        reserve(path, 20, 10)
    settle(path, hold, 2)
    reserve(path, 20, 10)  # 2 + 10 <= 20
    clock = 10.0**10  # an hour later everything has left the window
    reserve(path, 20, 20, clock=lambda: clock)


def test_a_run_over_the_hourly_limit_is_refused_before_sending(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    path = window_path(Path("user-state") / "aiops", "L2_market_outlook")
    reserve(path, 20, 16)  # other runs used 16 of the 20; this call may make 5
    _script(loopback, [INSIDE], [INSIDE])
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert loopback.requests == []
    last = result.stderr.splitlines()[-1]
    assert last.startswith("aiops: error: web search limit: this call may make up to 5")
    assert last.endswith("refused before sending")


def test_runs_share_the_hourly_limit_durably(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    """A limit of 10 and answers that make 5 searches each: two runs go out, the third
    is refused before anything is sent (the window is on disk, not in the process)."""
    scope = fast_config / "capability_scopes" / "L2_market_outlook.toml"
    scope.write_text(
        scope.read_text().replace("rate_limit_per_hour = 20", "rate_limit_per_hour = 10")
    )
    calls = [search_call(n, [f"q{n}"], [INSIDE]) for n in range(1, 6)]
    loopback.script(RESPONSES_PATH, Reply(body=web_answer(sample.proposer_text(), calls, [])))
    loopback.script(CHAT_PATH, critic_handler())
    codes = [runner.invoke(app, [*LIVE, "--out", f"runs/p{n}"]).exit_code for n in range(3)]
    assert codes == [0, 0, 2]
    assert len([r for r in loopback.requests if r.path == RESPONSES_PATH]) == 2
    window = json.loads(window_path(Path("user-state") / "aiops", "L2_market_outlook").read_text())
    assert [entry["n"] for entry in window["window"]] == [5, 5]


def test_concurrent_live_processes_share_the_hourly_limit(
    loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path, tmp_path: Path
) -> None:
    """Four processes at once under a limit of 10, each answer making 5 searches:
    exactly two go out, the others are refused before sending, whatever the timing."""
    import os
    import subprocess
    import sys

    scope = fast_config / "capability_scopes" / "L2_market_outlook.toml"
    text = scope.read_text().replace("rate_limit_per_hour = 20", "rate_limit_per_hour = 10")
    scope.write_text(text)
    calls = [search_call(n, [f"q{n}"], [INSIDE]) for n in range(1, 6)]
    loopback.script(RESPONSES_PATH, Reply(body=web_answer(sample.proposer_text(), calls, [])))
    loopback.script(CHAT_PATH, critic_handler())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.update(AIOPS_CONFIG_DIR=str(fast_config), AIOPS_RATELIMIT_DIR=str(tmp_path / "rl"))
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "aiops", *LIVE, "--out", f"runs/p{n}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [(child.communicate(timeout=120), child.returncode) for child in children]
    codes = sorted(code for _, code in results)
    assert codes == [0, 0, 2, 2], [err for (_, err), _ in results]
    refused = [err for (_, err), code in results if code == 2]
    assert all("web search limit" in err.splitlines()[-1] for err in refused)
    assert len([r for r in loopback.requests if r.path == RESPONSES_PATH]) == 2


def test_an_incomplete_answer_still_records_and_checks_its_sources(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, "layer_mapping.L2", fallbacks=[])
    outside = "https://www.zerohedge.com/markets/cpi"
    body = web_answer(
        '{"outputs": [',
        [search_call(1, ["US CPI"], [INSIDE, outside])],
        [],
        status="incomplete",
        incomplete_reason="max_output_tokens",
    )
    loopback.script(RESPONSES_PATH, Reply(body=body))
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 4, result.stderr
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == "FAILED"
    assert read(pack, "web_sources.json")["outside"] == 1
    scope = read(pack, "capability_scope_check.json")
    assert scope["outputs_checked"] is False
    assert [v["location"] for v in scope["violations"]] == [f"web.consulted: {outside}"]
    assert runner.invoke(app, ["verify-pack", str(pack)]).exit_code == 0
