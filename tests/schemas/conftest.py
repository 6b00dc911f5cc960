"""Real packs of every kind for the schema tests, made once per module."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.services.keys import generate
from tests.conftest import FIXED_EPOCH
from tests.schemas.packs import Packs
from tests.support.loopback import LoopbackServer
from tests.support.scripts import happy_path


def _run(runner: CliRunner, *args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr


def _record(runner: CliRunner, mp: pytest.MonkeyPatch, out: Path) -> Path:
    server = LoopbackServer()
    try:
        happy_path(server)
        mp.setenv("OPENAI_BASE_URL", server.base_url)
        mp.setenv("DEEPSEEK_BASE_URL", server.base_url)
        mp.setenv("OPENAI_API_KEY", "test-key-" + secrets.token_hex(8))
        mp.setenv("DEEPSEEK_API_KEY", "test-key-" + secrets.token_hex(8))
        fixture = out.parent / f"{out.name}-fixture.json"
        _run(runner, "l2", "record", "--allow-network", "--yes", "--fixture", str(fixture))
    finally:
        server.close()
    assert not server.problems, server.problems
    ledger = Path("evidence_packs")
    (made,) = [p for p in ledger.iterdir() if not p.name.startswith(".")]
    made.rename(out)
    shutil.rmtree(ledger)
    return out


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packs]:
    root = tmp_path_factory.mktemp("real-packs")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        mp.setenv("AIOPS_RATELIMIT_DIR", str(root / "ratelimit"))
        for name in ("AIOPS_CONFIG_DIR", "AIOPS_PACKS_DIR", "AIOPS_SIGNING_KEY"):
            mp.delenv(name, raising=False)
        _run(runner, "l2", "dry-run", "--out", "dry")
        _run(runner, "l2", "replay", "--out", "replay")
        record = _record(runner, mp, root / "record")
        keys = generate(root / "keys")
        mp.setenv("AIOPS_SIGNING_KEY", str(keys.private_path))
        signed = _record(runner, mp, root / "signed")
        _run(runner, "review", str(signed), "--approve", "--reviewer", "op-a", "--notes", "ok")
        yield Packs(root / "dry", root / "replay", record, signed, keys)
