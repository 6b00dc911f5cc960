"""The seed's three dry-run examples: golden packs, byte-identical reruns, run ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.canonical import canonical_json, sha256_hex
from aiops.cli import app
from aiops.services.run_layer import compute_run_id

SEED_EXAMPLES = {
    "L2": ["l2", "dry-run", "--primary", "gpt-5.2-pro", "--critic", "deepseek-r1"],
    "L0": [
        "l0",
        "dry-run",
        "--primary",
        "gpt-5.2",
        "--critic",
        "deepseek-r1",
        "--notes",
        "Testing L0 orchestration",
    ],
    "L4": ["l4", "dry-run", "--primary", "o3-pro", "--critic", "gpt-5.2-pro"],
}


def read_pack(pack: Path) -> dict[str, object]:
    """Every file of a pack, JSON parsed (so the snapshot diff is readable)."""
    return {
        p.name: json.loads(p.read_bytes()) if p.suffix == ".json" else p.read_text()
        for p in sorted(pack.iterdir())
    }


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("layer", sorted(SEED_EXAMPLES))
def test_seed_dry_run_pack_golden(
    runner: CliRunner, tmp_path: Path, json_snapshot: SnapshotAssertion, layer: str
) -> None:
    out = tmp_path / "out" / f"{layer}_dry_run"
    result = runner.invoke(app, [*SEED_EXAMPLES[layer], "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert read_pack(out) == json_snapshot


@pytest.mark.parametrize("layer", sorted(SEED_EXAMPLES))
def test_two_dry_runs_are_byte_identical(runner: CliRunner, tmp_path: Path, layer: str) -> None:
    for name in ("a", "b"):
        # Separate ledgers: each pack is the first of its chain.
        assert runner.invoke(app, [*SEED_EXAMPLES[layer], "--out", f"{name}/pack"]).exit_code == 0
    a = {p.name: p.read_bytes() for p in (tmp_path / "a/pack").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b/pack").iterdir()}
    assert a == b


def test_evidence_index_hashes_every_other_file(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, [*SEED_EXAMPLES["L2"], "--out", "p"]).exit_code == 0
    index = json.loads((tmp_path / "p/evidence_pack.json").read_bytes())
    listed = {a["name"]: a for a in index["artifacts"]}
    on_disk = {p.name for p in (tmp_path / "p").iterdir()} - {"evidence_pack.json"}
    assert set(listed) == on_disk
    for name, entry in listed.items():
        data = (tmp_path / "p" / name).read_bytes()
        assert entry["digest"]["sha256"] == sha256_hex(data)
        assert entry["size"] == len(data)


def test_run_id_is_documented_hash() -> None:
    payload = {
        "capability_scope_id": "L2_market_outlook",
        "capability_scope_version": "1.0",
        "critic_model_id": "deepseek-r1",
        "fallback_model_ids": ["gpt-5.2"],
        "layer_id": "L2",
        "primary_model_id": "gpt-5.2-pro",
    }
    expected = "L2-" + sha256_hex(canonical_json(payload))[:16]
    assert (
        compute_run_id("L2", "gpt-5.2-pro", ["gpt-5.2"], "deepseek-r1", "L2_market_outlook", "1.0")
        == expected
    )
    assert (
        compute_run_id("L2", "gpt-5.2", [], "deepseek-r1", "L2_market_outlook", "1.0") != expected
    )


def test_clock_changes_timestamps_not_run_id(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, [*SEED_EXAMPLES["L2"], "--out", "a/p"]).exit_code == 0
    later = runner.invoke(
        app, [*SEED_EXAMPLES["L2"], "--out", "b/p"], env={"SOURCE_DATE_EPOCH": "1768132800"}
    )
    assert later.exit_code == 0
    a = json.loads((tmp_path / "a/p/run_manifest.json").read_text())
    b = json.loads((tmp_path / "b/p/run_manifest.json").read_text())
    assert a["run_id"] == b["run_id"]
    assert (a["timestamp"], b["timestamp"]) == (
        "2026-01-10T12:00:00+00:00",
        "2026-01-11T12:00:00+00:00",
    )


def test_bad_source_date_epoch_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["l2", "dry-run"], env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert result.exit_code == 2
    assert "SOURCE_DATE_EPOCH" in result.stderr
