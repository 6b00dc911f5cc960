"""The served model as evidence (threat T7): recorded in every output file, the run
manifest and the report; pinned to a snapshot in the registry, with a mismatch warned
about or blocking the run per layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from tests.conftest import FakeKeys
from tests.evidence.builders import reindex, rewrite_json
from tests.services.packs import only_pack, read
from tests.support import sample
from tests.support.loopback import (
    CHAT_PATH,
    RESPONSES_PATH,
    Captured,
    LoopbackServer,
    Reply,
    chat_answer,
    responses_answer,
)
from tests.support.registry_edit import set_keys
from tests.support.scripts import cited_hash

LIVE = ["l2", "live", "--allow-network", "--yes"]
SNAPSHOT = "gpt-5.2-pro-2025-12-11"


def _script(loopback: LoopbackServer, served: str) -> None:
    loopback.script(
        RESPONSES_PATH, Reply(body=responses_answer(sample.proposer_text(), model=served))
    )

    def critic(captured: Captured) -> Reply:
        body = chat_answer(json.dumps(sample.critic_verdict(cited_hash(captured))))
        body["system_fingerprint"] = "fp_3a5770e1b4"
        body["service_tier"] = "default"
        return Reply(body=body)

    loopback.script(CHAT_PATH, critic)


def test_served_model_is_recorded_in_the_files_the_manifest_and_the_report(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    _script(loopback, SNAPSHOT)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    pack = only_pack()
    proposer, critic = read(pack, "proposer_output.json"), read(pack, "critic_output.json")
    assert proposer["served"] == {
        "model": SNAPSHOT,
        "system_fingerprint": None,
        "service_tier": None,
        "expected": None,
        "matches": None,
        "policy": "warn",
    }
    assert critic["served"]["system_fingerprint"] == "fp_3a5770e1b4"
    entries = {e["role"]: e for e in read(pack, "run_manifest.json")["outputs_manifest"]}
    assert entries["proposer"]["served_model"] == SNAPSHOT
    assert (entries["critic"]["system_fingerprint"], entries["critic"]["service_tier"]) == (
        "fp_3a5770e1b4",
        "default",
    )
    report = (pack / "operator_output.md").read_text()
    assert f"served by {SNAPSHOT}" in report
    assert "served by deepseek-r1 (fingerprint fp_3a5770e1b4, tier default)" in report
    assert "mismatch" not in result.stderr


def test_a_pinned_snapshot_is_sent_as_the_model_and_shown_on_the_banner(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    set_keys(fast_config, 'models."gpt-5.2-pro"', snapshot=SNAPSHOT)
    _script(loopback, SNAPSHOT)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 0, result.stderr
    assert loopback.requests[0].body["model"] == SNAPSHOT
    assert f"gpt-5.2-pro ({SNAPSHOT})" in result.stderr
    assert f"must be served as {SNAPSHOT}" in " ".join(result.stderr.split())
    proposer = read(only_pack(), "proposer_output.json")
    assert proposer["provider_model"] == SNAPSHOT
    assert proposer["served"]["matches"] is True and proposer["served"]["expected"] == SNAPSHOT


@pytest.mark.parametrize(
    ("policy", "code", "status"), [("warn", 0, "COMPLETED"), ("block", 2, "BLOCKED")]
)
def test_a_served_model_mismatch_follows_the_layer_policy(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    fast_config: Path,
    policy: str,
    code: int,
    status: str,
) -> None:
    set_keys(fast_config, 'models."gpt-5.2-pro"', snapshot=SNAPSHOT)
    set_keys(fast_config, "layer_mapping.L2", served_model_mismatch=policy)
    _script(loopback, "gpt-5.2-pro-2026-02-01")  # the provider swapped the snapshot
    result = runner.invoke(app, LIVE)
    assert result.exit_code == code, result.stderr
    message = (
        f"served model mismatch: proposer gpt-5.2-pro expected '{SNAPSHOT}', "
        "the provider said 'gpt-5.2-pro-2026-02-01'"
    )
    assert message in " ".join(result.stderr.split())  # the summary wraps long lines
    assert status in result.stdout
    pack = only_pack()
    assert read(pack, "evidence_pack.json")["status"] == status
    served = read(pack, "proposer_output.json")["served"]
    assert (served["matches"], served["policy"]) == (False, policy)
    assert message in (pack / "operator_output.md").read_text()
    verified = runner.invoke(app, ["verify-pack", str(pack)])
    assert verified.exit_code == 0, verified.stdout


def test_an_expected_served_name_without_a_pin_and_a_silent_provider(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    """``served_model`` alone checks the answer without changing the request; a provider
    that names no model does not match what is expected."""
    set_keys(fast_config, "models.deepseek-r1", served_model="deepseek-r1:671b")
    set_keys(fast_config, "layer_mapping.L2", served_model_mismatch="block")
    loopback.script(RESPONSES_PATH, Reply(body=responses_answer(sample.proposer_text())))

    def critic(captured: Captured) -> Reply:
        body = chat_answer(json.dumps(sample.critic_verdict(cited_hash(captured))))
        del body["model"]
        return Reply(body=body)

    loopback.script(CHAT_PATH, critic)
    result = runner.invoke(app, LIVE)
    assert result.exit_code == 2
    assert loopback.requests[1].body["model"] == "deepseek-r1"
    stderr = " ".join(result.stderr.split())
    assert "expected 'deepseek-r1:671b', the provider said no model (blocks the run)" in stderr


def test_verify_pack_rederives_the_served_check(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    """A forger who rewrites the check (and re-records the file's hash) is caught: the
    match must follow from the names, and BLOCKED needs the blocking mismatch."""
    set_keys(fast_config, 'models."gpt-5.2-pro"', snapshot=SNAPSHOT)
    set_keys(fast_config, "layer_mapping.L2", served_model_mismatch="block")
    _script(loopback, "gpt-5.2-pro-2026-02-01")
    assert runner.invoke(app, LIVE).exit_code == 2
    pack = only_pack()

    def claim_match(doc: dict[str, Any]) -> None:
        doc["served"]["matches"] = True

    rewrite_json(pack / "proposer_output.json", claim_match)
    reindex(pack, "proposer_output.json")
    result = runner.invoke(app, ["verify-pack", str(pack), "--json"])
    assert result.exit_code == 1
    out = result.stdout
    assert "served.matches does not follow from served.model and served.expected" in out
    assert "status BLOCKED without a failed check" in out


def test_pilot_drift_and_report_flag_a_change_of_served_model(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, fast_config: Path
) -> None:
    for served in (SNAPSHOT, SNAPSHOT, "gpt-5.2-pro-2026-02-01"):
        _script(loopback, served)
        result = runner.invoke(app, LIVE)
        assert result.exit_code == 0, result.stderr
        loopback.reset()
    first, second, third = sorted(p for p in Path("evidence_packs").iterdir())
    same = runner.invoke(app, ["pilot", "drift", str(first), str(second), "--json"])
    assert json.loads(same.stdout)["served_model_changed"] is False
    changed = runner.invoke(app, ["pilot", "drift", str(second), str(third), "--json"])
    result = json.loads(changed.stdout)
    assert result["served_model_changed"] is True
    assert (result["served_model_baseline"], result["served_model_current"]) == (
        SNAPSHOT,
        "gpt-5.2-pro-2026-02-01",
    )
    table = runner.invoke(app, ["pilot", "drift", str(second), str(third)])
    assert f"CHANGED {SNAPSHOT} -> gpt-5.2-pro-2026-02-01" in table.stdout
    report = runner.invoke(app, ["pilot", "report", "--json"])
    changes = json.loads(report.stdout)["served_model_changes"]
    pack_id = read(third, "evidence_pack.json")["evidence_pack_id"]
    assert changes == [
        f"2026-01-10 {pack_id}: proposer gpt-5.2-pro served by {SNAPSHOT} -> gpt-5.2-pro-2026-02-01"
    ]
