"""The scope's allow-list as the API takes it, and hosts as the check reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from aiops.cli import app
from aiops.governance.web_scope import DomainError, api_domains, host_allowed, url_host


def test_wildcards_become_bare_domains_in_order_each_once() -> None:
    assert api_domains(["*.Reuters.com", "reuters.com", "*.fred.stlouisfed.org"]) == [
        "reuters.com",
        "fred.stlouisfed.org",
    ]


def test_non_ascii_domains_are_sent_as_punycode() -> None:
    assert api_domains(["*.bücher.de"]) == ["xn--bcher-kva.de"]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("https://reuters.com", "no scheme"),
        ("reuters.com/markets", "a path"),
        ("reuters.com:443", "a port"),
        ("reuters.*.com", "wildcard"),
        ("*reuters.com", "wildcard"),
        ("203.0.113.7", "IP addresses"),
        ("com", "single labels"),
        ("reuters.com.", "trailing dots"),
        ("user@reuters.com", "userinfo"),
    ],
)
def test_entries_the_api_cannot_express_are_refused_by_name(entry: str, why: str) -> None:
    with pytest.raises(DomainError) as caught:
        api_domains([entry])
    assert repr(entry) in str(caught.value) and why in str(caught.value)


def test_an_empty_list_and_more_than_100_are_refused() -> None:
    with pytest.raises(DomainError, match="search anywhere"):
        api_domains([])
    with pytest.raises(DomainError, match="at most 100"):
        api_domains([f"d{n}.example.com" for n in range(101)])


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://WWW.Reuters.COM./x", "www.reuters.com"),
        ("https://reuters.com:8443/x", "reuters.com"),
        ("https://a:b@reuters.com/x", "reuters.com"),
        ("https://user@reuters.com@evil.com/", "evil.com"),
        ("https://evil.com/reuters.com", "evil.com"),
        ("https://www.reutеrs.com/", "www.xn--reutrs-6of.com"),
        ("https://evil.com\\@reuters.com/", None),
        ("https://reuters%2ecom/", None),
        ("https://[::1]/", None),
        ("http://192.168.0.1/", None),
        ("ftp://reuters.com/", None),
        ("https://reuters.com :80/", None),
        ("https://reuters.com:80a/", None),
    ],
)
def test_hosts_are_normalised_or_refused(url: str, host: str | None) -> None:
    assert url_host(url) == host


def test_subdomains_match_but_suffix_lookalikes_do_not() -> None:
    domains = ["reuters.com"]
    assert host_allowed("reuters.com", domains)
    assert host_allowed("www.reuters.com", domains)
    assert not host_allowed("reuters.com.evil.com", domains)
    assert not host_allowed("evilreuters.com", domains)
    assert not host_allowed(None, domains)


def _scope(config: Path) -> Path:
    return config / "capability_scopes" / "L2_market_outlook.toml"


def test_config_check_names_an_unexpressible_domain(runner: CliRunner, config_copy: Path) -> None:
    path = _scope(config_copy)
    path.write_text(path.read_text().replace('"*.reuters.com"', '"reuters.com/markets"'))
    result = runner.invoke(app, ["--config-dir", str(config_copy), "config", "check"])
    assert result.exit_code == 2
    assert "web_access.allowed_domains" in result.stdout + result.stderr
    assert "'reuters.com/markets': a path cannot be expressed" in result.stdout + result.stderr
    dry = runner.invoke(app, ["--config-dir", str(config_copy), "l2", "dry-run"])
    assert dry.exit_code == 2 and dry.stdout == ""
    assert dry.stderr.startswith("aiops: error: invalid config")
    assert "'reuters.com/markets'" in dry.stderr


def test_a_proposer_that_cannot_search_under_a_web_scope_is_a_config_error(
    runner: CliRunner,
) -> None:
    result = runner.invoke(app, ["l2", "dry-run", "--primary", "deepseek-r1", "--critic", "o3"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "aiops: error: invalid config "
        f"{Path(result.stderr.split()[4].rstrip(':'))}: tooling.allowed: scope "
        "L2_market_outlook allows web tooling but proposer deepseek-r1 cannot use the "
        "web_search tool (registry web_search = none)\n"
    )
    assert not Path("evidence_packs").exists()


def test_the_hourly_limit_below_one_calls_cap_is_a_config_error(
    runner: CliRunner, config_copy: Path
) -> None:
    path = _scope(config_copy)
    path.write_text(path.read_text().replace("rate_limit_per_hour = 20", "rate_limit_per_hour = 4"))
    result = runner.invoke(app, ["--config-dir", str(config_copy), "config", "check"])
    assert result.exit_code == 2
    assert "rate_limit_per_hour 4 is below max_searches_per_run 5" in result.stdout + result.stderr


@given(st.text(max_size=80), st.sampled_from(["https://", "http://", "", "https://a@"]))
def test_any_text_gives_a_host_or_none_and_never_raises(text: str, prefix: str) -> None:
    host = url_host(prefix + text)
    assert host is None or host_allowed(host, [host])
    try:
        api_domains([text])
    except DomainError:
        pass
