"""Shared fixtures: a fixed clock, a fixed terminal, an isolated working directory."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from aiops.known_secrets import KnownSecrets, activate
from aiops.resources import default_config_dir
from tests.support.loopback import LoopbackServer
from tests.support.proxy import LoopbackProxy
from tests.support.registry_edit import FAST_POLICY, set_keys
from tests.support.tls import LoopbackPki, make_pki

if TYPE_CHECKING:
    from tests.support.pilot_live import LivePilot

NETWORK_ENVIRONMENT = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ssl_cert_file", "ssl_cert_dir"}
)
FIXED_EPOCH = "1768046400"  # 2026-01-10T12:00:00+00:00, the seeds' example time
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _user_directories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The per-user directories (spend ledger, rate limits, caches, keys) point into the
    session's temporary directory before any fixture of any scope runs: no test may read
    or spend the budget of whoever runs the suite. Each test then gets its own."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            mp.setenv(name, str(root / name.lower()))
        yield


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test runs in its own empty directory with a fixed clock and terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
    monkeypatch.setenv("TERMINAL_WIDTH", "100")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    # Rate-limit windows are machine-wide by default; each test gets its own.
    monkeypatch.setenv("AIOPS_RATELIMIT_DIR", str(tmp_path / "logs" / "ratelimit"))
    # Per-user files (the default signing-key directory) stay inside the test.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    # So does the desk's budget state (spend ledger), never the user's real one.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "user-state"))
    for name in (
        "AIOPS_CONFIG_DIR",
        "AIOPS_PACKS_DIR",
        "AIOPS_SIGNING_KEY",
        "AIOPS_ENV_FILE",
        "AIOPS_SECRETS_DIR",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DEEPSEEK_API_KEY",
        "DEEPSEEK_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    # The secrets a run knows are the process's: each test starts with none.
    activate(KnownSecrets())
    # How requests leave is the machine's business, not the test's: no proxy, certifi.
    for name in list(os.environ):
        if name.lower() in NETWORK_ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration, for tests that break it."""
    target = tmp_path / "cfg"
    shutil.copytree(default_config_dir(), target)
    return target


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A scripted Responses/Chat Completions server on 127.0.0.1. Every request it got
    must have been valid under the official client's request types."""
    server = LoopbackServer()
    try:
        yield server
    finally:
        server.close()
    assert not server.problems, server.problems


@pytest.fixture
def loopback_proxy() -> Iterator[LoopbackProxy]:
    """A forward proxy on 127.0.0.1 (absolute-form requests and CONNECT tunnels) that
    records every request it got; upstream is loopback only."""
    proxy = LoopbackProxy()
    try:
        yield proxy
    finally:
        proxy.close()
    assert not proxy.problems, proxy.problems


@pytest.fixture(scope="session")
def loopback_pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPki:
    """A throwaway CA (``ca_file``) and a server context for 127.0.0.1 signed by it."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass(frozen=True)
class FakeKeys:
    openai: str
    deepseek: str

    def all(self) -> list[str]:
        return [self.openai, self.deepseek]


@pytest.fixture
def fast_config(tmp_path: Path) -> Path:
    """A copy of the shipped configuration with millisecond backoff and short timeouts."""
    target = tmp_path / "fastcfg"
    shutil.copytree(default_config_dir(), target)
    set_keys(target, "fallback_policy", **FAST_POLICY)
    return target


@pytest.fixture
def network_env(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, fast_config: Path
) -> FakeKeys:
    """Both providers pointed at the loopback server, with obviously fake keys made now;
    the configuration is ``fast_config`` (``AIOPS_CONFIG_DIR``) unless a test names one."""
    monkeypatch.setenv("AIOPS_CONFIG_DIR", str(fast_config))
    keys = FakeKeys("test-key-" + secrets.token_hex(8), "test-key-" + secrets.token_hex(8))
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", keys.openai)
    monkeypatch.setenv("DEEPSEEK_API_KEY", keys.deepseek)
    return keys


# --- The synthetic 30-day pilot (tests/support/pilot.py), built once per session -------


@pytest.fixture(scope="session")
def pilot_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One fixture per kind of pilot day, recorded through record mode on loopback."""
    from tests.support.pilot import record_fixtures

    directory = tmp_path_factory.mktemp("pilot-fixtures")
    with pytest.MonkeyPatch.context() as mp:
        _session_isolation(mp, directory)
        mp.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        return record_fixtures(directory)


@pytest.fixture(scope="session")
def pilot_ledger(
    pilot_fixtures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Path]:
    """The 30 replayed days (day -> pack directory) in ``<tmp>/ledger``. Shared by the
    whole session: read it, copy it to change it, never change it in place."""
    from tests.support.pilot import build_pilot_ledger

    root = tmp_path_factory.mktemp("pilot")
    with pytest.MonkeyPatch.context() as mp:
        _session_isolation(mp, root)
        return build_pilot_ledger(root / "ledger", pilot_fixtures, root / "days")


@pytest.fixture(scope="session")
def live_pilot(tmp_path_factory: pytest.TempPathFactory) -> LivePilot:
    """The 30 live days with an outage, replays, dry-runs, reviews and a served-model
    change (tests/support/pilot_live.py), in ``<tmp>/ledger``. Shared: read it only."""
    from tests.support.pilot_live import build_live_pilot

    root = tmp_path_factory.mktemp("live-pilot")
    with pytest.MonkeyPatch.context() as mp:
        _session_isolation(mp, root)
        return build_live_pilot(root)


def _session_isolation(mp: pytest.MonkeyPatch, directory: Path) -> None:
    """Session fixtures run before the per-test isolation: give them their own working
    directory (logs, spend ledger) and rate-limit windows too, never the checkout's."""
    for name in ("AIOPS_CONFIG_DIR", "AIOPS_PACKS_DIR"):
        mp.delenv(name, raising=False)
    mp.chdir(directory)
    mp.setenv("AIOPS_RATELIMIT_DIR", str(directory / "logs" / "ratelimit"))
    mp.setenv("XDG_STATE_HOME", str(directory / "user-state"))
