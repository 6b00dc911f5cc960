"""Drift between two packs of the same layer and prompt version.

Token drift (documented in docs/pilot.md, "Drift"):

* the text compared is the canonical JSON (sorted keys, no whitespace) of the
  proposer's ``parsed`` output when both packs have one, else ``output_text`` as
  received — the result says which (``basis``);
* tokens are the lower-cased (NFKC, casefold) number and word runs of that text:
  ``\\d+(?:[.,]\\d+)*`` or ``[^\\W\\d_]+``; punctuation, JSON syntax and whitespace are
  not tokens;
* ``drift % = 100 x (1 - 2 x LCS(A, B) / (|A| + |B|))``, ``A`` the baseline's tokens,
  ``B`` the current's, ``LCS`` the length of their longest common subsequence (so the
  drift is the share of tokens a word-level diff would delete or insert), rounded to 2
  decimals; 0 when both are empty.

The LCS is exact, computed with the bit-parallel algorithm of Crochemore, Iliopoulos,
Pinzon and Reid (2001) on Python integers: ``O(|A| x |B| / w)`` machine-word operations,
a fraction of a second for two outputs of tens of thousands of tokens.

Flagged when the drift is above ``DRIFT_THRESHOLD_PCT`` (10 %; exactly 10 is not flagged).
Structural drift is reported beside it: regime, scenarios and no-trade triggers.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from aiops.canonical import canonical_json
from aiops.errors import UsageError
from aiops.evidence.l2_content import L2Content, read_l2_content
from aiops.evidence.reader import PackView, load_pack
from aiops.schemas.pilot import DriftBasis, DriftResult, StructuralDrift
from aiops.services.pilot_served import served_model

DRIFT_THRESHOLD_PCT = 10.0
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")


def tokenize(text: str) -> list[str]:
    if text.isascii():  # NFKC leaves ASCII as it is, and casefold is lower() there
        return _TOKEN.findall(text.lower())
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def drift_text(proposer: dict[str, object], basis: DriftBasis) -> str:
    if basis == "parsed":
        return canonical_json(proposer.get("parsed")).decode("utf-8")
    text = proposer.get("output_text")
    return text if isinstance(text, str) else ""


class TokenIndex:
    """One side of the LCS: each token's positions in ``tokens`` as a bit mask."""

    def __init__(self, tokens: list[str]) -> None:
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            positions.setdefault(token, []).append(i)
        self.length = len(tokens)
        self.masks = {token: _bits(where) for token, where in positions.items()}

    def lcs(self, other: list[str]) -> int:
        """Length of the longest common subsequence with ``other`` (bit-parallel)."""
        full = (1 << self.length) - 1
        v = full
        get = self.masks.get
        for mask in [get(token, 0) for token in other]:
            if mask:  # a token the baseline lacks leaves v as it is
                u = v & mask
                v = ((v + u) | (v - u)) & full
        return self.length - v.bit_count()


def lcs_length(a: list[str], b: list[str]) -> int:
    return TokenIndex(a).lcs(b)


def _bits(positions: list[int]) -> int:
    # bytes -> int is linear; OR-ing one bit at a time would be quadratic for common tokens
    mask = bytearray((positions[-1] >> 3) + 1)
    for i in positions:
        mask[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(mask, "little")


class AnswerComparer:
    """Compares many answers against one: the baseline answer is tokenised, indexed and
    read (its structure, its served model) once, and a text already compared is not
    compared again (replays and unchanged answers repeat the same text)."""

    def __init__(self, answer: dict[str, object]) -> None:
        self._proposer = answer
        self._tokens: dict[DriftBasis, list[str]] = {}
        self._indexes: dict[DriftBasis, TokenIndex] = {}
        self._content = read_l2_content(answer.get("parsed"))
        self._served = served_model(answer)
        self._matched: dict[tuple[DriftBasis, bytes], tuple[int, int]] = {}

    def token_drift(self, answer: dict[str, object]) -> float:
        """The token drift % of ``answer`` (a ``proposer_output.json`` whose proposer
        answered) against the baseline answer."""
        return self._tokens_of(answer)[4]

    def _tokens_of(self, proposer: dict[str, object]) -> tuple[DriftBasis, int, int, int, float]:
        """Basis, baseline and current token counts, their LCS and the drift %."""
        basis: DriftBasis = (
            "parsed"
            if isinstance(self._proposer.get("parsed"), dict)
            and isinstance(proposer.get("parsed"), dict)
            else "text"
        )
        a = self._baseline_tokens(basis)
        current_tokens, matched = self._match(basis, drift_text(proposer, basis))
        total = len(a) + current_tokens
        drift = 0.0 if total == 0 else round(100.0 * (1.0 - 2.0 * matched / total), 2)
        return basis, len(a), current_tokens, matched, drift

    def _match(self, basis: DriftBasis, text: str) -> tuple[int, int]:
        """The current text's token count and its LCS with the baseline's."""
        key = (basis, hashlib.sha256(text.encode("utf-8")).digest())
        found = self._matched.get(key)
        if found is None:
            tokens = tokenize(text)
            a = self._tokens[basis]
            matched = len(a) if tokens == a else self._indexes[basis].lcs(tokens)
            found = self._matched[key] = (len(tokens), matched)
        return found

    def _baseline_tokens(self, basis: DriftBasis) -> list[str]:
        if basis not in self._tokens:
            tokens = tokenize(drift_text(self._proposer, basis))
            self._tokens[basis], self._indexes[basis] = tokens, TokenIndex(tokens)
        return self._tokens[basis]


class BaselineComparer(AnswerComparer):
    """Compares packs against a baseline pack of the same layer and prompt version."""

    def __init__(self, baseline: PackView) -> None:
        super().__init__(_proposer_of(baseline))
        self.baseline = baseline

    def compare(self, current: PackView) -> DriftResult:
        base, cur = self.baseline, current
        if base.index.layer_id != cur.index.layer_id:
            raise UsageError(
                f"packs are from different layers ({base.index.layer_id}, {cur.index.layer_id})"
            )
        if base.prompt_key != cur.prompt_key:
            raise UsageError(
                "packs use different prompts "
                f"({_prompt(base.prompt_key)} vs {_prompt(cur.prompt_key)}); drift compares "
                "runs of the same prompt version"
            )
        proposer = _proposer_of(cur)
        basis, baseline_tokens, current_tokens, matched, drift = self._tokens_of(proposer)
        structural = _structural(self._content, read_l2_content(proposer.get("parsed")))
        served_a, served_b = self._served, served_model(proposer)
        return DriftResult(
            baseline_pack_id=base.index.evidence_pack_id,
            current_pack_id=cur.index.evidence_pack_id,
            layer_id=base.index.layer_id,
            prompt_id=base.prompt_key[0],
            prompt_version=base.prompt_key[1],
            basis=basis,
            baseline_tokens=baseline_tokens,
            current_tokens=current_tokens,
            matched_tokens=matched,
            token_drift_pct=drift,
            threshold_pct=DRIFT_THRESHOLD_PCT,
            flagged=drift > DRIFT_THRESHOLD_PCT,
            structural=structural,
            structural_changed=structural.changed,
            served_model_baseline=served_a,
            served_model_current=served_b,
            served_model_changed=None not in (served_a, served_b) and served_a != served_b,
        )


def pilot_drift(baseline: Path, current: Path) -> DriftResult:
    """``aiops pilot drift BASELINE CURRENT``."""
    return BaselineComparer(load_pack(baseline)).compare(load_pack(current))


def _proposer_of(view: PackView) -> dict[str, object]:
    if view.proposer is None:
        raise UsageError(
            f"{view.path} has no readable proposer output "
            f"(status {view.index.status}, mode {view.index.mode}); nothing to compare"
        )
    if view.proposer.get("outcome") not in ("completed", "refused", "incomplete"):
        raise UsageError(
            f"{view.path} has no proposer answer "
            f"(status {view.index.status}, mode {view.index.mode}); nothing to compare"
        )
    return view.proposer


def _prompt(key: tuple[str | None, str | None]) -> str:
    return f"{key[0] or '(none)'} v{key[1] or '(none)'}"


def _structural(a: L2Content, b: L2Content) -> StructuralDrift:
    a_scen = {s.key for s in a.scenarios}
    b_scen = {s.key for s in b.scenarios}
    a_trig, b_trig = set(a.no_trade_triggers), set(b.no_trade_triggers)
    return StructuralDrift(
        regime_baseline=a.regime,
        regime_current=b.regime,
        regime_changed=a.regime != b.regime,
        scenarios_added=sorted(b_scen - a_scen),
        scenarios_removed=sorted(a_scen - b_scen),
        triggers_added=sorted(b_trig - a_trig),
        triggers_removed=sorted(a_trig - b_trig),
    )
