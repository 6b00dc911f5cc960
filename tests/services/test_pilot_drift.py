"""Token and structural drift: the documented tokenisation and formula, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from aiops.cli import app
from aiops.evidence.reader import load_pack
from aiops.services.pilot_drift import BaselineComparer, lcs_length, tokenize
from tests.pilot_ledger import (
    DaySpec,
    baseline_parsed,
    pilot_days,
    with_summary_substituted,
    write_l2_pack,
)


def test_tokenize_lowercases_words_and_keeps_numbers_whole() -> None:
    text = 'Regime: RISK-on; p=0.35, S&P 5,000 {"Straße": "ÉTÉ"} x_y'
    assert tokenize(text) == [
        "regime", "risk", "on", "p", "0.35", "s", "p", "5,000", "strasse", "été", "x", "y"
    ]  # fmt: skip
    assert tokenize("  {} [] , : ") == []


def dp_lcs(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme, as the reference."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal, row[0] = 0, 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


tokens = st.lists(st.sampled_from(["a", "b", "c", "d", "0.5"]), max_size=90)


@given(tokens, tokens)
def test_bit_parallel_lcs_equals_the_textbook_lcs(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == dp_lcs(a, b) == lcs_length(b, a)


def test_lcs_on_known_sequences() -> None:
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the CLRS example
    assert lcs_length([], ["x"]) == 0
    assert lcs_length(["x"] * 70, ["x"] * 65) == 65  # masks wider than a machine word


@pytest.fixture
def ledger(tmp_path: Path) -> dict[int, Path]:
    ledger = tmp_path / "ledger"
    specs = {s.day: s for s in pilot_days()}
    return {day: write_l2_pack(ledger, specs[day]) for day in (1, 5, 10, 15)}


def test_substitution_drift_is_k_over_n(ledger: dict[int, Path]) -> None:
    comparer = BaselineComparer(load_pack(ledger[1]))
    same = comparer.compare(load_pack(ledger[1]))
    assert (same.token_drift_pct, same.matched_tokens, same.flagged) == (0.0, 200, False)
    five = comparer.compare(load_pack(ledger[5]))  # 6 of 200 tokens substituted
    assert (five.token_drift_pct, five.matched_tokens, five.flagged) == (3.0, 194, False)
    assert five.basis == "parsed" and not five.structural_changed


def test_threshold_is_strictly_above_ten_percent(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    base = write_l2_pack(ledger, DaySpec(day=1))
    at_ten = write_l2_pack(
        ledger, DaySpec(day=2, parsed=with_summary_substituted(baseline_parsed(), 20))
    )
    above = write_l2_pack(
        ledger, DaySpec(day=3, parsed=with_summary_substituted(baseline_parsed(), 21))
    )
    comparer = BaselineComparer(load_pack(base))
    assert comparer.compare(load_pack(at_ten)).token_drift_pct == 10.0
    assert not comparer.compare(load_pack(at_ten)).flagged
    assert comparer.compare(load_pack(above)).token_drift_pct == 10.5
    assert comparer.compare(load_pack(above)).flagged


def test_drift_command_flags_and_reports_structure(runner, ledger: dict[int, Path]) -> None:
    result = runner.invoke(app, ["pilot", "drift", str(ledger[1]), str(ledger[15])])
    assert result.exit_code == 1, result.output
    assert "22.28 %" in result.stdout and "FLAGGED" in result.stdout
    assert "risk-on -> risk-off" in result.stdout
    result = runner.invoke(app, ["pilot", "drift", str(ledger[1]), str(ledger[5])])
    assert result.exit_code == 0
    assert "3.00 %" in result.stdout and "within threshold" in result.stdout


def test_drift_json_snapshot(runner, ledger: dict[int, Path], snapshot) -> None:
    result = runner.invoke(app, ["pilot", "drift", "--json", str(ledger[1]), str(ledger[15])])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["structural"] == {
        "regime_baseline": "risk-on",
        "regime_current": "risk-off",
        "regime_changed": True,
        "scenarios_added": ["S4"],
        "scenarios_removed": ["S3"],
        "triggers_added": ["credit spreads widen"],
        "triggers_removed": [],
    }
    assert (data["baseline_tokens"], data["current_tokens"], data["matched_tokens"]) == (
        200,
        204,
        157,
    )
    assert data == snapshot(extension_class=JSONSnapshotExtension)


def test_different_prompt_version_is_refused(runner, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    a = write_l2_pack(ledger, DaySpec(day=1))
    b = write_l2_pack(ledger, DaySpec(day=2, prompt_version="2.0"))
    result = runner.invoke(app, ["pilot", "drift", str(a), str(b)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "aiops: error: packs use different prompts (l2_market_outlook v1.0 vs "
        "l2_market_outlook v2.0); drift compares runs of the same prompt version"
    )


def test_different_layer_and_packs_without_output_are_refused(runner, tmp_path: Path) -> None:
    l2 = write_l2_pack(tmp_path / "ledger", DaySpec(day=1))
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


def test_text_basis_when_an_output_did_not_parse(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    base = write_l2_pack(ledger, DaySpec(day=1))
    garbled = DaySpec(day=2)
    garbled.parsed = None  # type: ignore[assignment]
    current = write_l2_pack(ledger, garbled)
    result = BaselineComparer(load_pack(base)).compare(load_pack(current))
    # pack_json(None) is "null\n": one token against the baseline's pretty-printed text
    assert result.basis == "text" and result.current_tokens == 1
    assert result.flagged and result.structural.regime_current is None
