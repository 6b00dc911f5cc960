"""A synthetic 30-day L2 pilot of live runs, as an operator's month goes.

Each day ``aiops l2 live`` runs at the day's noon against the loopback server, which
answers the day's kind of output (``tests/support/pilot.py``'s days: drift, a
structural change, a scope violation, a fallback) and says which model served it.
Beside the pilot's days, what else happens in a real ledger:

* day 1: a provider outage — every model answers 503, the run is FAILED (exit 4);
* a served-model change mid-pilot: from ``SERVED_CHANGE_DAY`` the provider says a newer
  snapshot of gpt-5.2-pro answered;
* replays of the shipped sample and dry-runs on some days (never pilot days: not live);
* reviews: at the prompt (timed, through the review service's clock seam), on the
  command line (``--approve``, not timed), none on some days; a replay reviewed too.

Latencies are measured on loopback, so they are the one figure that is not a constant
here; every other figure the report shows follows from the constants below.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from aiops.cli import app
from aiops.resources import default_config_dir
from aiops.schemas.review import Decision
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    error_body,
    responses_answer,
)
from tests.support.pilot import (
    DAYS,
    SCOPE_VIOLATION_DAY,
    day_epoch,
    review_pack,
    variant_of,
    variants,
)
from tests.support.registry_edit import FAST_POLICY, set_keys
from tests.support.scripts import critic_handler

OUTAGE_DAY = 1  # every model answers 503: FAILED, no answer, never the baseline
BASELINE_DAY = 2  # the first COMPLETED live pack
SERVED_CHANGE_DAY = 16
SERVED_BEFORE = "gpt-5.2-pro-2025-12-11"
SERVED_AFTER = "gpt-5.2-pro-2026-01-24"
REPLAY_DAYS = frozenset({5, 18})  # the shipped sample replayed: cost recorded, not spent
DRY_RUN_DAYS = frozenset({3, 25})
UNREVIEWED_DAYS = frozenset({17, 29})
SCRIPTED_REVIEW_DAYS = frozenset({7, 14})  # --approve on the command line: not timed
REJECTED_REVIEW_DAYS = frozenset({SCOPE_VIOLATION_DAY})
REVIEWED_REPLAY_DAY = 5  # not due: never counted in coverage


def review_minutes(day: int) -> float:
    return 3.0 + day % 7


@dataclass
class LivePilot:
    live: dict[int, Path] = field(default_factory=dict)  # day -> the day's live pack
    replays: dict[int, Path] = field(default_factory=dict)
    dry_runs: dict[int, Path] = field(default_factory=dict)


def served_by(day: int) -> str:
    return SERVED_AFTER if day >= SERVED_CHANGE_DAY else SERVED_BEFORE


def _proposer(day: int) -> Any:
    variant = variants()[variant_of(day)]
    text = sample.proposer_text(variant.outputs)

    def handle(captured: Captured) -> Reply:
        if day == OUTAGE_DAY:
            return Reply(503, error_body("The server is overloaded.", code="server_error"))
        if variant.fallback and captured.body["model"] == "gpt-5.2-pro":
            return Reply(429, error_body("You exceeded your quota.", code="insufficient_quota"))
        model = captured.body["model"]
        served = served_by(day) if model == "gpt-5.2-pro" else model
        return Reply(
            body=responses_answer(
                text, model=served, reasoning_summary=sample.PROPOSER_REASONING_SUMMARY
            )
        )

    return handle


def build_live_pilot(root: Path) -> LivePilot:
    """The 30 days, the runs beside them and the reviews, in ``root / "ledger"``."""
    config = root / "config"
    shutil.copytree(default_config_dir(), config)
    set_keys(config, "fallback_policy", **FAST_POLICY)
    ledger = root / "ledger"
    server = LoopbackServer()
    pilot = LivePilot()
    try:
        env = {
            "AIOPS_CONFIG_DIR": str(config),
            "AIOPS_PACKS_DIR": str(ledger),
            "OPENAI_BASE_URL": server.base_url,
            "DEEPSEEK_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test-key-" + secrets.token_hex(8),
            "DEEPSEEK_API_KEY": "test-key-" + secrets.token_hex(8),
        }
        for day in range(1, DAYS + 1):
            server.reset()
            server.script(RESPONSES_PATH, _proposer(day))
            server.script(CHAT_PATH, critic_handler())
            pilot.live[day] = _run(ledger, ["l2", "live", "--allow-network", "--yes"], day, env)
            assert _status(pilot.live[day]) == expected_status(day), day
            if day in REPLAY_DAYS:
                pilot.replays[day] = _run(ledger, ["l2", "replay"], day, env)
            if day in DRY_RUN_DAYS:
                pilot.dry_runs[day] = _run(ledger, ["l2", "dry-run"], day, env)
    finally:
        server.close()
    assert not server.problems, server.problems
    _review(pilot)
    return pilot


def expected_status(day: int) -> str:
    if day == OUTAGE_DAY:
        return "FAILED"
    return "BLOCKED" if day == SCOPE_VIOLATION_DAY else "COMPLETED"


def _status(pack: Path) -> str:
    return str(json.loads((pack / "evidence_pack.json").read_bytes())["status"])


def _run(ledger: Path, args: list[str], day: int, env: dict[str, str]) -> Path:
    before = set(ledger.iterdir()) if ledger.is_dir() else set()
    result = CliRunner().invoke(app, args, env={**env, "SOURCE_DATE_EPOCH": str(day_epoch(day))})
    assert result.exit_code in (0, 2, 4), (args, day, result.output)
    (pack,) = set(ledger.iterdir()) - before
    return pack


def _review(pilot: LivePilot) -> None:
    for day, pack in pilot.live.items():
        if day in UNREVIEWED_DAYS:
            continue
        decision: Decision = "REJECT" if day in REJECTED_REVIEW_DAYS else "APPROVE"
        scripted = day in SCRIPTED_REVIEW_DAYS
        review_pack(
            pack,
            day_epoch(day) + 3600,
            0.0 if scripted else review_minutes(day),
            decision,
            interactive=not scripted,
        )
    review_pack(pilot.replays[REVIEWED_REPLAY_DAY], day_epoch(REVIEWED_REPLAY_DAY) + 7200, 2.0)
