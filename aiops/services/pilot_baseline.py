"""The pilot's drift: every answer of the baseline's layer and prompt against the
baseline's, and the weekly drift KPI (docs/pilot.md, "Drift").

The baseline is ``--baseline PACK`` (a COMPLETED pack whose proposer answered), else the
pilot's first COMPLETED pack (by sequence) whose proposer answered. A FAILED or BLOCKED
pack is never the baseline; a pack without an answer (an outage) is not compared.

Drift depends on the two answers only, so it is kept per user by content: for each
baseline answer (the SHA-256 of its ``proposer_output.json``), the drift % of each
answer compared with it, by the SHA-256 of the pack's ``proposer_output.json`` as its
index lists it and verify-pack checked it. Under ``$XDG_CACHE_HOME/aiops/drift`` (else
``~/.cache/aiops/drift``), one file per ledger; a pack whose answer is not in it is
compared now. The same answer in many packs (replays) is compared once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiops import __version__
from aiops.canonical import sha256_hex
from aiops.errors import PackReadError, UsageError
from aiops.evidence.names import PROPOSER_OUTPUT_FILE
from aiops.evidence.reader import load_pack
from aiops.evidence.strict import MAX_JSON_BYTES, StrictJSONError, loads_strict, read_file_in
from aiops.schemas.pilot import Kpi
from aiops.services.file_stamps import ledger_cache_file, load_entries, save_entries
from aiops.services.pilot_drift import DRIFT_THRESHOLD_PCT, AnswerComparer
from aiops.services.pilot_facts import PackFacts
from aiops.services.pilot_kpis import kpi
from aiops.services.pilot_usage import answered

CACHE_VERSION = 1

# The answer (proposer_output.json) of a pack whose proposer answered.
AnswerOf = Callable[[PackFacts], dict[str, Any]]


@dataclass(frozen=True)
class DriftPoint:
    pack: PackFacts
    token_drift_pct: float
    baseline_id: str
    baseline_day: str

    @property
    def day(self) -> str:
        return self.pack.day

    @property
    def flagged(self) -> bool:
        return self.token_drift_pct > DRIFT_THRESHOLD_PCT


@dataclass(frozen=True)
class Baseline:
    pack_id: str
    day: str
    layer_id: str
    prompt_key: tuple[str | None, str | None]
    answer_sha256: str  # of its proposer_output.json: what the drift cache is kept by
    answer: Callable[[], dict[str, Any]]  # read only when an answer is compared now


def chosen_baseline(path: Path | None) -> Baseline | None:
    """``--baseline PACK``: a COMPLETED pack whose proposer answered."""
    if path is None:
        return None
    view = load_pack(path)
    if view.index.status != "COMPLETED" or not answered(view.proposer):
        raise UsageError(
            f"--baseline {path}: a {view.index.status} pack is never a drift baseline "
            "(choose a COMPLETED pack whose proposer answered)"
        )
    # The answer compared and the digest it is kept by come from the same bytes.
    digest, answer = read_answer(path)
    if digest is None or answer is None or not answered(answer):
        raise PackReadError(f"--baseline {path}: {PROPOSER_OUTPUT_FILE} changed while read")
    index = view.index
    return Baseline(
        index.evidence_pack_id, view.day, index.layer_id, view.prompt_key, digest, lambda: answer
    )


def read_answer(pack: Path) -> tuple[str | None, dict[str, Any] | None]:
    """A pack's ``proposer_output.json``: the SHA-256 of the bytes read and the object
    they parse to as strict JSON (``None`` for what is missing or is no JSON object)."""
    read = read_file_in(pack, PROPOSER_OUTPUT_FILE, max_bytes=MAX_JSON_BYTES)
    if read.data is None:
        return None, None
    try:
        doc = loads_strict(read.data)
    except StrictJSONError:
        doc = None
    return sha256_hex(read.data), doc if isinstance(doc, dict) else None


def drift_points(
    ledger: Path,
    packs: list[PackFacts],
    answer_of: AnswerOf,
    chosen: Baseline | None = None,
    use_cache: bool = True,
) -> list[DriftPoint]:
    """Every pack with an answer, of the baseline's layer and prompt and not before its
    day, against the baseline (``chosen``, else the first COMPLETED pack that answered);
    without ``use_cache``, every answer is compared now and the cache left as it is."""
    candidates = [p for p in packs if p.status != "FAILED" and p.proposer_answered]
    baseline = chosen
    if baseline is None:
        first = next((p for p in candidates if p.status == "COMPLETED"), None)
        if first is None or first.proposer_sha256 is None:
            return []
        baseline = Baseline(
            first.pack_id,
            first.day,
            first.layer_id,
            first.prompt_key,
            first.proposer_sha256,
            lambda: answer_of(first),
        )
    compared = [
        p
        for p in candidates
        if p.layer_id == baseline.layer_id
        and p.prompt_key == baseline.prompt_key
        and p.day >= baseline.day
    ]
    drifts = _DriftCache(ledger, baseline, answer_of, use_cache)
    points = [DriftPoint(p, drifts.pct(p), baseline.pack_id, baseline.day) for p in compared]
    if use_cache:
        drifts.save()
    return points


class _DriftCache:
    def __init__(
        self, ledger: Path, baseline: Baseline, answer_of: AnswerOf, enabled: bool
    ) -> None:
        self.path = ledger_cache_file("drift", ledger)
        self.header = {
            "version": CACHE_VERSION,
            "aiops": __version__,
            "ledger": os.path.abspath(ledger),
            "baseline": baseline.answer_sha256,
        }
        self.entries = load_entries(self.path, self.header)[0] if enabled else {}
        self.fresh: dict[str, float] = {}
        self.baseline = baseline
        self.answer_of = answer_of
        self._comparer: AnswerComparer | None = None
        self._baseline_answer: dict[str, Any] = {}

    def pct(self, pack: PackFacts) -> float:
        key = pack.proposer_sha256
        if key is not None and key in self.fresh:
            return self.fresh[key]
        found = self.entries.get(key) if key is not None else None
        if not isinstance(found, int | float) or isinstance(found, bool):
            if self._comparer is None:
                self._baseline_answer = self.baseline.answer()
                self._comparer = AnswerComparer(self._baseline_answer)
            # The baseline's own answer (its pack, or a replay of it) is not read twice.
            same = key is not None and key == self.baseline.answer_sha256
            answer = self._baseline_answer if same else self.answer_of(pack)
            found = self._comparer.token_drift(answer)
        if key is not None:
            self.fresh[key] = float(found)
        return float(found)

    def save(self) -> None:
        if self.fresh != self.entries:
            save_entries(self.path, self.header, self.fresh)


def flagged_days(drifts: list[DriftPoint]) -> list[str]:
    """The days whose drift (that of the day's last pack) is above the threshold."""
    daily = {point.day: point.token_drift_pct for point in drifts}
    return sorted(day for day, pct in daily.items() if pct > DRIFT_THRESHOLD_PCT)


def weekly_drift(drifts: list[DriftPoint], since: date | None) -> Kpi:
    """Weekly checks: the first pack on or after baseline day + 7k, within that week;
    with ``since``, only the checks that fall in the window."""
    threshold = (float(DRIFT_THRESHOLD_PCT), "at most")
    if not drifts:
        return kpi("drift", "Weekly drift", None, "%", threshold, "NO DATA", "no proposer output")
    start = date.fromisoformat(drifts[0].baseline_day)
    checks: dict[int, DriftPoint] = {}
    for point in drifts:
        week = (date.fromisoformat(point.day) - start).days // 7
        if week >= 1 and week not in checks:
            checks[week] = point
    if since is not None:
        checks = {w: p for w, p in checks.items() if p.day >= since.isoformat()}
    if not checks:
        return kpi(
            "drift", "Weekly drift", None, "%", threshold, "NO DATA", "pilot shorter than 8 days"
        )
    worst = max(p.token_drift_pct for p in checks.values())
    flagged = [p.pack.pack_id for p in checks.values() if p.flagged]
    detail = "; ".join(
        f"week {w}: {p.token_drift_pct:.2f} % ({p.day})" for w, p in sorted(checks.items())
    )
    status = "FAIL" if flagged else "PASS"
    return kpi("drift", "Weekly drift", round(worst, 2), "%", threshold, status, detail, flagged)
