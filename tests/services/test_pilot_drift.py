"""Token and structural drift: the documented tokenisation and formula, and the command,
on packs replayed from fixtures recorded through record mode (tests/support/pilot.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from typer.testing import CliRunner

from aiops.cli import app
from aiops.evidence.reader import load_pack
from aiops.services.pilot_drift import BaselineComparer, lcs_length, tokenize
from tests.support.pilot import (
    BASELINE_TOKENS,
    Variant,
    baseline_outputs,
    dp_lcs,
    record_fixture,
    replay,
    substituted,
)


def test_tokenize_lowercases_words_and_keeps_numbers_whole() -> None:
    text = 'Regime: RISK-on; p=0.35, S&P 5,000 {"Straße": "ÉTÉ"} x_y'
    assert tokenize(text) == [
        "regime", "risk", "on", "p", "0.35", "s", "p", "5,000", "strasse", "été", "x", "y"
    ]  # fmt: skip
    assert tokenize("  {} [] , : ") == []


tokens = st.lists(st.sampled_from(["a", "b", "c", "d", "0.5"]), max_size=90)


@given(tokens, tokens)
def test_bit_parallel_lcs_equals_the_textbook_lcs(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == dp_lcs(a, b) == lcs_length(b, a)


def test_lcs_on_known_sequences() -> None:
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the CLRS example
    assert lcs_length([], ["x"]) == 0
    assert lcs_length(["x"] * 70, ["x"] * 65) == 65  # masks wider than a machine word


@pytest.fixture
def ledger(pilot_ledger: dict[int, Path]) -> dict[int, Path]:
    return {day: pilot_ledger[day] for day in (1, 5, 10, 15)}


def recorded(tmp_path: Path, variant: Variant) -> Path:
    return record_fixture(variant, tmp_path / f"{variant.name}.json", tmp_path)


def test_substitution_drift_is_k_over_n(ledger: dict[int, Path]) -> None:
    comparer = BaselineComparer(load_pack(ledger[1]))
    same = comparer.compare(load_pack(ledger[1]))
    assert (same.token_drift_pct, same.matched_tokens, same.flagged) == (0.0, 600, False)
    assert same.baseline_tokens == BASELINE_TOKENS
    five = comparer.compare(load_pack(ledger[5]))  # 6 of 600 tokens substituted
    assert (five.token_drift_pct, five.matched_tokens, five.flagged) == (1.0, 594, False)
    assert five.basis == "parsed" and not five.structural_changed
    assert (five.prompt_id, five.prompt_version) == ("l2_market_outlook", "1.2.0")


def test_threshold_is_strictly_above_ten_percent(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    packs = [
        replay(recorded(tmp_path, Variant(name, outputs)), ledger, day)
        for day, (name, outputs) in enumerate(
            [
                ("base", baseline_outputs()),
                ("at-ten", substituted(baseline_outputs(), 60)),
                ("above", substituted(baseline_outputs(), 61)),
            ],
            start=1,
        )
    ]
    comparer = BaselineComparer(load_pack(packs[0]))
    at_ten, above = (comparer.compare(load_pack(p)) for p in packs[1:])
    assert (at_ten.token_drift_pct, at_ten.flagged) == (10.0, False)
    assert (above.token_drift_pct, above.flagged) == (round(6100 / 600, 2), True)


def test_drift_command_flags_and_reports_structure(
    runner: CliRunner, ledger: dict[int, Path]
) -> None:
    result = runner.invoke(app, ["pilot", "drift", str(ledger[1]), str(ledger[15])])
    assert result.exit_code == 1, result.output
    assert "16.00 %" in result.stdout and "FLAGGED" in result.stdout
    current, baseline = (load_pack(ledger[d]).index.evidence_pack_id for d in (15, 1))
    assert result.stderr.splitlines() == [  # every non-zero exit: one line on stderr
        f"aiops: drift flagged: 16.00 % is above the 10 % threshold ({current} vs "
        f"baseline {baseline})"
    ]
    assert "late-cycle, rates-driven, moderately risk-on -> late-cycle, defensive" in (
        " ".join(result.stdout.split())
    )
    result = runner.invoke(app, ["pilot", "drift", str(ledger[1]), str(ledger[5])])
    assert result.exit_code == 0
    assert "1.00 %" in result.stdout and "within threshold" in result.stdout


def test_drift_json_snapshot(
    runner: CliRunner, ledger: dict[int, Path], snapshot: SnapshotAssertion
) -> None:
    result = runner.invoke(app, ["pilot", "drift", "--json", str(ledger[1]), str(ledger[15])])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["structural"] == {
        "regime_baseline": "late-cycle, rates-driven, moderately risk-on",
        "regime_current": "late-cycle, defensive",
        "regime_changed": True,
        "scenarios_added": ["S4"],
        "scenarios_removed": ["S3"],
        "triggers_added": ["NT4: No new risk while HY OAS is above 400bp."],
        "triggers_removed": [],
    }
    assert data["baseline_tokens"] == BASELINE_TOKENS
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_different_prompt_version_is_refused(
    runner: CliRunner, pilot_fixtures: dict[str, Path], config_copy: Path, tmp_path: Path
) -> None:
    prompt = config_copy / "prompts" / "l2_market_outlook.toml"
    prompt.write_text(prompt.read_text().replace('version = "1.2.0"', 'version = "1.3.0"'))
    ledger = tmp_path / "ledger"
    a = replay(pilot_fixtures["baseline"], ledger, 1)
    b = replay(pilot_fixtures["baseline"], ledger, 2, config_dir=config_copy)
    result = runner.invoke(app, ["pilot", "drift", str(a), str(b)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "aiops: error: packs use different prompts (l2_market_outlook v1.2.0 vs "
        "l2_market_outlook v1.3.0); drift compares runs of the same prompt version"
    )


def test_different_layer_and_packs_without_output_are_refused(
    runner: CliRunner, ledger: dict[int, Path], tmp_path: Path
) -> None:
    l2 = ledger[1]
    assert runner.invoke(app, ["l0", "dry-run", "--out", str(tmp_path / "l0")]).exit_code == 0
    assert runner.invoke(app, ["l2", "dry-run", "--out", str(tmp_path / "l2dry")]).exit_code == 0
    result = runner.invoke(app, ["pilot", "drift", str(l2), str(tmp_path / "l0")])
    assert result.exit_code == 2
    assert result.stderr.strip() == "aiops: error: packs are from different layers (L2, L0)"
    result = runner.invoke(app, ["pilot", "drift", str(tmp_path / "l2dry"), str(l2)])
    assert result.exit_code == 2
    assert "has no readable proposer output (status COMPLETED, mode dry-run)" in result.stderr
    result = runner.invoke(app, ["pilot", "drift", str(l2), str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("aiops: error: ") and "is not an evidence pack" in result.stderr


def test_text_basis_when_an_output_did_not_parse(ledger: dict[int, Path], tmp_path: Path) -> None:
    prose = Variant("prose", {}, text="The outlook is calm, risk on.")
    current = replay(recorded(tmp_path, prose), tmp_path / "ledger", 2, expected_exit=2)
    proposer = load_pack(current).proposer
    assert proposer is not None
    assert proposer["parsed"] is None
    result = BaselineComparer(load_pack(ledger[1])).compare(load_pack(current))
    # the baseline's output_text as received against the prose: 6 tokens
    assert (result.basis, result.current_tokens) == ("text", 6)
    assert result.flagged and result.structural.regime_current is None
