"""Layers that build on each other: L2 -> L3 -> L4 through ``--input-pack``.

Every refusal happens before any model call (the loopback server sees no request),
exits 2 with one line, and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aiops.cli import app
from aiops.services.keys import PRIVATE_KEY_FILE
from tests.conftest import FakeKeys
from tests.services.packs import read
from tests.support import chain_sample, sample
from tests.support.loopback import CHAT_PATH, RESPONSES_PATH, LoopbackServer, Reply, error_body
from tests.support.registry_edit import set_keys
from tests.support.scripts import critic_handler, happy_path, proposer_reply

LEDGER = Path("evidence_packs")


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def packs(ledger: Path = LEDGER) -> dict[str, Path]:
    """Layer id -> its newest pack in ``ledger``."""
    found = {}
    for pack in sorted(ledger.iterdir()):
        if not pack.name.startswith("."):
            found[pack.name[:2]] = pack
    return found


def replayed_chain(runner: CliRunner) -> dict[str, Path]:
    """The operator's offline chain: the shipped samples, L2 -> L3 -> L4 (on L3)."""
    assert run(runner, "l2", "replay").exit_code == 0
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 0, result.stderr
    result = run(runner, "l4", "replay", "--input-pack", "latest")
    assert result.exit_code == 0, result.stderr
    return packs()


def test_l2_l3_l4_offline_chain(runner: CliRunner) -> None:
    chain = replayed_chain(runner)
    l3, l4 = read(chain["L3"], "run_manifest.json"), read(chain["L4"], "run_manifest.json")
    (taken,) = l3["inputs_manifest"]
    assert taken["evidence_pack_id"] == "EVP-L2-2026-01-10-001"
    assert taken["layer_id"] == "L2" and taken["status"] == "COMPLETED"
    l2_index = (chain["L2"] / "evidence_pack.json").read_bytes()
    import hashlib

    assert taken["evidence_pack_sha256"] == hashlib.sha256(l2_index).hexdigest()
    (reviewed,) = l4["inputs_manifest"]
    assert reviewed["evidence_pack_id"] == "EVP-L3-2026-01-10-002"
    verdict = l4["governance_verdict"]
    assert verdict["verdict"] == "ALLOW" and verdict["fail_closed_reasons"] == []
    assert verdict["reviewed_pack_sha256"] == reviewed["evidence_pack_sha256"]
    assert all(f["cited"] for f in verdict["findings"])
    # The reviewed L3 proposer (gpt-5.2-pro) and critic (o3) differ from o3-pro.
    sod = read(chain["L4"], "sod_check.json")
    assert [c["name"] for c in sod["checks"]][-1] == "differs_from_reviewed_pack"
    result = run(runner, "verify-pack", str(LEDGER))
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("VERIFIED — 3 packs")
    listing = run(runner, "runs")
    line = next(x for x in listing.stdout.splitlines() if "EVP-L3-2026-01-10-002" in x)
    assert " ALLOW " in line


def test_l4_reviews_the_shipped_l2_sample_and_skips_its_critic_as_fallback(
    runner: CliRunner,
) -> None:
    assert run(runner, "l2", "replay").exit_code == 0
    result = run(runner, "l4", "replay", "--input-pack", "EVP-L2-2026-01-10-001")
    assert result.exit_code == 0, result.stderr
    assert "skipped deepseek-r1: SoD: it is the critic of the reviewed pack" in result.stderr
    manifest = read(packs()["L4"], "run_manifest.json")
    assert manifest["governance_verdict"]["reviewed_pack_id"] == "EVP-L2-2026-01-10-001"
    assert "L4 verdict" in result.stdout and "ALLOW on EVP-L2-2026-01-10-001" in result.stdout


@pytest.mark.parametrize("altered", ["operator_output.md", "evidence_pack.json"])
def test_an_input_pack_altered_later_fails_every_pack_built_on_it(
    runner: CliRunner, altered: str
) -> None:
    chain = replayed_chain(runner)
    target = chain["L2"] / altered
    data = target.read_bytes()
    target.write_bytes(data.replace(b"Market Outlook", b"Market 0utlook", 1))
    result = run(runner, "verify-pack", str(LEDGER), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    errors = {
        p["evidence_pack_id"]: [f["message"] for f in p["findings"] if f["check"] == "inputs"]
        for p in report["packs"]
    }
    (l3_problem,) = errors["EVP-L3-2026-01-10-002"]
    assert l3_problem.startswith("input pack EVP-L2-2026-01-10-001 (sequence 1) of EVP-L3")
    (l4_problem,) = errors["EVP-L4-2026-01-10-003"]
    assert l4_problem.startswith("input pack EVP-L3-2026-01-10-002 (sequence 2) of EVP-L4")
    assert "EVP-L2-2026-01-10-001" in l4_problem
    # Verified on its own, the L4 pack still names both.
    alone = run(runner, "verify-pack", str(chain["L4"]))
    assert alone.exit_code == 1
    assert "EVP-L3-2026-01-10-002" in alone.stdout and "EVP-L2-2026-01-10-001" in alone.stdout
    # And no new layer takes the altered pack.
    again = run(runner, "l3", "replay", "--input-pack", "EVP-L2-2026-01-10-001")
    assert again.exit_code == 2
    assert again.stderr.startswith("aiops: error: input pack EVP-L2-2026-01-10-001 does not")


def _l2_live(runner: CliRunner, loopback: LoopbackServer, outcome: str) -> None:
    """An L2 pack of the given status, from a live run against the loopback server."""
    if outcome == "REJECTED":
        happy_path(loopback, "REJECT")
    elif outcome == "BLOCKED":
        outputs: Any = sample.proposer_outputs()
        outputs["outputs"].append({"type": "OrderParameters", "content": "x", "rationale": "y"})
        loopback.script(RESPONSES_PATH, proposer_reply(outputs))
        loopback.script(CHAT_PATH, critic_handler())
    else:
        loopback.script(RESPONSES_PATH, Reply(500, error_body("down", kind="server_error")))
        loopback.script(CHAT_PATH, Reply(500, error_body("down", kind="server_error")))
    result = run(runner, "l2", "live", "--allow-network", "--yes")
    assert json.loads((packs()["L2"] / "evidence_pack.json").read_text())["status"] == outcome, (
        result.stderr
    )
    loopback.reset()


@pytest.mark.parametrize("outcome", ["REJECTED", "BLOCKED", "FAILED"])
def test_l3_refuses_an_l2_pack_that_is_not_completed_before_any_call(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, outcome: str
) -> None:
    _l2_live(runner, loopback, outcome)
    chain_sample.script_chain(loopback, "gpt-5.2-pro", lambda _: "{}")
    result = run(runner, "l3", "live", "--allow-network", "--yes", "--input-pack", "latest")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"aiops: error: input pack EVP-L2-2026-01-10-001 is {outcome}; L3_trade_plan_advisory "
        "takes only COMPLETED packs (nothing was sent)\n"
    )
    assert loopback.requests == []
    assert sorted(packs()) == ["L2"]


def test_a_layer_the_scope_does_not_take_is_refused(runner: CliRunner) -> None:
    chain = replayed_chain(runner)
    result = run(runner, "l3", "replay", "--input-pack", str(chain["L4"]))
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: input pack EVP-L4-2026-01-10-003 is an L4 pack; "
        "L3_trade_plan_advisory takes only L2 packs (nothing was sent)\n"
    )
    result = run(runner, "l4", "replay", "--input-pack", str(chain["L4"]))
    assert result.exit_code == 2
    assert "takes only L2, L3 packs" in result.stderr
    result = run(runner, "l2", "replay", "--input-pack", str(chain["L2"]))
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: L2 takes no input packs (L2_market_outlook has no [input_packs])\n"
    )
    assert len(packs()) == 3 and len(list(LEDGER.iterdir())) == 3


def test_latest_with_no_pack_of_an_accepted_layer(runner: CliRunner) -> None:
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: no L2 pack in the ledger evidence_packs for --input-pack latest\n"
    )
    assert run(runner, "l0", "dry-run").exit_code == 0  # a pack, of a layer L3 does not take
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 2
    assert "no L2 pack in the ledger" in result.stderr


def test_l3_needs_an_input_pack(runner: CliRunner) -> None:
    result = run(runner, "l3", "replay")
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: L3 needs --input-pack: at least 1 pack of layer L2, by path, pack id "
        "or 'latest'\n"
    )


def test_an_input_pack_from_another_ledger(runner: CliRunner, tmp_path: Path) -> None:
    assert run(runner, "l2", "replay").exit_code == 0
    other = tmp_path / "elsewhere"
    LEDGER.rename(other)
    l2 = next(other.iterdir())
    result = run(runner, "l3", "replay", "--input-pack", str(l2))
    assert result.exit_code == 2
    assert result.stderr == (
        f"aiops: error: input pack {l2} is not in this run's ledger evidence_packs: name "
        f"its ledger with --input-ledger {other}\n"
    )
    assert not LEDGER.exists() or not any(LEDGER.iterdir())
    result = run(runner, "l3", "replay", "--input-pack", "latest", "--input-ledger", str(other))
    assert result.exit_code == 0, result.stderr
    (entry,) = read(packs()["L3"], "run_manifest.json")["inputs_manifest"]
    assert entry["same_ledger"] is False
    plain = run(runner, "verify-pack", str(LEDGER))
    assert plain.exit_code == 1
    assert "in another ledger: name that ledger with --input-ledger DIR" in plain.stdout
    named = run(runner, "verify-pack", str(LEDGER), "--input-ledger", str(other))
    assert named.exit_code == 0, named.stdout


def test_an_unapproved_pack_when_the_scope_requires_approval(
    runner: CliRunner, config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = config_copy / "capability_scopes" / "L3_trade_plan_advisory.toml"
    scope.write_text(
        scope.read_text().replace("require_approved = false", "require_approved = true")
    )
    monkeypatch.setenv("AIOPS_CONFIG_DIR", str(config_copy))
    assert run(runner, "l2", "replay").exit_code == 0
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 2
    assert result.stderr == (
        "aiops: error: input pack EVP-L2-2026-01-10-001 is not reviewed; "
        "L3_trade_plan_advisory takes only packs an operator approved (aiops review) "
        "(nothing was sent)\n"
    )
    assert run(runner, "review", "latest", "--reject", "--reviewer", "ops").exit_code == 0
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 2 and "is REJECT;" in result.stderr
    (packs()["L2"] / "review.json").unlink()
    assert run(runner, "review", "latest", "--approve", "--reviewer", "ops").exit_code == 0
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 0, result.stderr


def test_a_trusted_key_requires_the_input_pack_signed(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run(runner, "l2", "replay").exit_code == 0  # unsigned
    keys = tmp_path / "keys"
    assert run(runner, "keys", "generate", "--out-dir", str(keys)).exit_code == 0
    monkeypatch.setenv("AIOPS_SIGNING_KEY", str(keys / PRIVATE_KEY_FILE))
    result = run(runner, "l3", "replay", "--input-pack", "latest")
    assert result.exit_code == 2
    assert "input pack EVP-L2-2026-01-10-001 does not verify: " in result.stderr
    assert "evidence_pack.dsse.json is missing and --key was given" in result.stderr


@pytest.mark.parametrize(
    ("role", "expected"),
    [("critic", "critic of the reviewed pack"), ("proposer", "proposer of the reviewed pack")],
)
def test_l4_model_equal_to_the_reviewed_pack_models_is_an_sod_fail(
    runner: CliRunner,
    config_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    expected: str,
) -> None:
    if role == "critic":  # deepseek-r1 was the L2 sample's critic
        set_keys(config_copy, "layer_mapping.L4", primary="deepseek-r1")
    else:  # gpt-5.2-pro its proposer
        set_keys(config_copy, "layer_mapping.L4", primary="gpt-5.2-pro", critic="o3")
    monkeypatch.setenv("AIOPS_CONFIG_DIR", str(config_copy))
    assert run(runner, "l2", "replay").exit_code == 0
    result = run(runner, "l4", "replay", "--input-pack", "latest")
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: SoD FAIL: proposer ")
    assert expected in result.stderr and "EVP-L2-2026-01-10-001" in result.stderr
    assert sorted(packs()) == ["L2"]


def _l4_live(
    runner: CliRunner, loopback: LoopbackServer, answer: Any
) -> tuple[Result, dict[str, Any]]:
    assert run(runner, "l2", "replay").exit_code == 0
    chain_sample.script_chain(loopback, "o3-pro", answer)
    result = run(runner, "l4", "live", "--allow-network", "--yes", "--input-pack", "latest")
    return result, read(packs()["L4"], "run_manifest.json")["governance_verdict"]


def _verdict_answer(**change: Any) -> Any:
    def answer(captured: Any) -> str:
        outputs = chain_sample.l4_outputs(captured)
        outputs["outputs"][0].update(change)
        return json.dumps(outputs)

    return answer


def test_an_l4_answer_that_does_not_parse_fails_closed(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    result, verdict = _l4_live(runner, loopback, lambda _: "ALLOW, looks fine")
    assert result.exit_code == 2  # a scope violation: BLOCKED
    assert verdict["verdict"] == "REVIEW_REQUIRED" and verdict["model_verdict"] is None
    assert "no readable GovernanceVerdict in the answer" in verdict["fail_closed_reasons"]
    assert run(runner, "verify-pack", str(LEDGER)).exit_code == 0  # recorded as it happened


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"findings": []}, "the verdict cites no policy (no finding)"),
        (
            {
                "findings": [
                    {"severity": "info", "policy_ref": "POL-MADE-UP", "file": "sod_check.json",
                     "detail": "fine"}
                ]
            },
            "finding 1 cites 'POL-MADE-UP', not a policy of L4_governance_critic",
        ),
        (
            {
                "findings": [
                    {"severity": "info", "policy_ref": "POL-SOD", "file": "secrets.env",
                     "detail": "fine"}
                ]
            },
            "finding 1 names 'secrets.env', not a reviewed pack file",
        ),
        (
            {
                "findings": [
                    {"severity": "error", "policy_ref": "POL-NO-EXEC",
                     "file": "proposer_output.json", "detail": "an order size"}
                ]
            },
            "ALLOW beside 1 finding(s) of severity error",
        ),
        ({"reviewed_content_sha256": "sha256:" + "0" * 64}, "not the reviewed content"),
    ],
)  # fmt: skip
def test_an_l4_allow_that_is_not_cited_fails_closed_to_review_required(
    runner: CliRunner,
    loopback: LoopbackServer,
    network_env: FakeKeys,
    change: dict[str, Any],
    reason: str,
) -> None:
    result, verdict = _l4_live(runner, loopback, _verdict_answer(**change))
    assert result.exit_code == 1, result.stderr
    assert verdict["model_verdict"] == "ALLOW"
    assert verdict["verdict"] == "REVIEW_REQUIRED"
    assert any(reason in r for r in verdict["fail_closed_reasons"]), verdict
    assert result.stderr.splitlines()[-1].startswith(
        "aiops: governance verdict REVIEW_REQUIRED on EVP-L2-2026-01-10-001 (the model said ALLOW"
    )
    assert run(runner, "verify-pack", str(LEDGER)).exit_code == 0


def test_an_l4_reject_stays_reject(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys
) -> None:
    result, verdict = _l4_live(runner, loopback, _verdict_answer(verdict="REJECT"))
    assert result.exit_code == 1
    again = run(runner, "l4", "live", "--allow-network", "-y", "--input-pack", "latest", "--json")
    assert json.loads(again.stdout)["governance_verdict"] == "REJECT"
    assert verdict["verdict"] == "REJECT" and verdict["fail_closed_reasons"] == []
    listing = run(runner, "runs", "--json")
    rows = {r["pack_id"]: r for r in json.loads(listing.stdout)["runs"]}
    assert rows["EVP-L2-2026-01-10-001"]["governance_verdict"] == "REJECT"
    assert rows["EVP-L4-2026-01-10-002"]["governance_verdict"] is None
    # the pilot report takes the verdict from the manifests verify-pack read
    modes = [arg for mode in ("live", "record", "replay", "dry-run") for arg in ("--mode", mode)]
    report = run(runner, "pilot", "report", *modes, "--json")
    rows = {r["pack_id"]: r for r in json.loads(report.stdout)["pack_rows"]}
    assert rows["EVP-L2-2026-01-10-001"]["governance_verdict"] == "REJECT"


def test_a_stale_verdict_is_marked(runner: CliRunner) -> None:
    chain = replayed_chain(runner)
    index = chain["L3"] / "evidence_pack.json"
    index.write_text(index.read_text().replace('"operator_notes": ""', '"operator_notes": "x"'))
    listing = run(runner, "runs", "--json")
    rows = {r["pack_id"]: r for r in json.loads(listing.stdout)["runs"]}
    assert rows["EVP-L3-2026-01-10-002"]["governance_verdict"] == "ALLOW (stale)"


@pytest.mark.parametrize(("layer", "why"), [("l5", "deterministic code only"), ("l6", "EXEC")])
def test_l5_and_l6_still_refuse(runner: CliRunner, layer: str, why: str) -> None:
    result = run(runner, layer, "replay", "--input-pack", "latest")
    assert result.exit_code == 2 and why in result.stderr and result.stdout == ""


def test_the_chained_samples_replay_on_any_day_and_sequence(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the model sees of a pack holds no id, sequence or time: the shipped L3 and
    L4 fixtures replay on a ledger that already has packs, on another day."""
    assert run(runner, "l0", "dry-run").exit_code == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")  # 2026-05-28
    assert run(runner, "l2", "replay").exit_code == 0
    for args in (["l3", "--input-pack", "latest"], ["l4", "--input-pack", "latest"]):
        result = run(runner, args[0], "replay", *args[1:])
        assert result.exit_code == 0, result.stderr
    assert sorted(packs()) == ["L0", "L2", "L3", "L4"]
    reviewed = read(packs()["L4"], "run_manifest.json")["governance_verdict"]
    assert reviewed["reviewed_pack_id"] == "EVP-L3-2026-05-28-003"


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: v.update(verdict="ALLOW", fail_closed_reasons=[]),
        lambda v: v.update(model_verdict="REJECT"),
        lambda v: v["findings"][0].update(policy_ref="POL-SOD", cited=True),
        lambda v: v.update(reviewed_pack_id="EVP-L2-2026-01-10-009"),
    ],
    ids=["allow", "model-verdict", "finding", "reviewed-pack"],
)
def test_a_forged_verdict_record_does_not_verify(
    runner: CliRunner, loopback: LoopbackServer, network_env: FakeKeys, forge: Any
) -> None:
    from tests.evidence.builders import reindex, rewrite_json

    finding = {"severity": "error", "policy_ref": "POL-NOPE", "file": "x", "detail": "d"}
    result, _ = _l4_live(runner, loopback, _verdict_answer(findings=[finding]))
    assert result.exit_code == 1
    pack = packs()["L4"]
    rewrite_json(pack / "run_manifest.json", lambda m: forge(m["governance_verdict"]))
    reindex(pack, "run_manifest.json")
    checked = run(runner, "verify-pack", str(pack), "--json")
    assert checked.exit_code == 1
    messages = [f["message"] for f in json.loads(checked.stdout)["packs"][0]["findings"]]
    assert any(m.startswith("governance_verdict") for m in messages), messages


def test_usage_errors_of_input_packs(runner: CliRunner) -> None:
    assert run(runner, "l2", "replay").exit_code == 0
    l2 = str(packs()["L2"])
    cases = {
        ("--input-pack", l2, "--input-pack", "latest"): "L3 takes at most 1 --input-pack",
        ("--input-pack", "latest", "--input-ledger", "nowhere"): (
            "--input-ledger nowhere is not a directory"
        ),
        ("--input-pack", "EVP-L2-2026-01-10-777"): (
            "no pack 'EVP-L2-2026-01-10-777' in the ledger evidence_packs"
        ),
        ("--input-pack", "README.md"): "input pack README.md is not a pack",
    }
    Path("README.md").write_text("not a pack\n")
    for args, message in cases.items():
        result = run(runner, "l3", "replay", *args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith(f"aiops: error: {message}"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert sorted(packs()) == ["L2"]
