"""``aiops runs``: the ledger's packs, newest first, one row each.

Every pack is read as verify-pack reads it (``aiops.evidence.reader``): an index that
does not read is listed under ``unreadable`` with why, never a crash; a file of the
pack that does not read leaves its figure empty and says so in the row's ``problems``.
Cost is what the output files record (``aiops.services.pilot_usage``); a pack's cost
is ``None`` when a call in it is not priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aiops.errors import PackReadError, UsageError
from aiops.evidence.ledger import pack_dirs
from aiops.evidence.reader import PackView, load_pack
from aiops.evidence.review import read_review
from aiops.schemas.registry import Registry
from aiops.schemas.runs import ReviewState, RunList, RunRow
from aiops.services.governance_reviews import with_governance
from aiops.services.pilot_usage import calls
from aiops.services.runs_cache import RowCache, fingerprint

NOT_SPENT_MODES = ("dry-run", "replay")  # nothing is sent: recorded cost, never spend


@dataclass(frozen=True)
class RunFilters:
    layer: str | None = None  # "L2" or "l2"
    mode: str | None = None
    status: str | None = None
    since: date | None = None
    unreviewed: bool = False

    def keep(self, row: RunRow) -> bool:
        return (
            (self.layer is None or row.layer_id == self.layer.upper())
            and (self.mode is None or row.mode == self.mode)
            and (self.status is None or row.status == self.status.upper())
            and (self.since is None or row.created[:10] >= self.since.isoformat())
            and (not self.unreviewed or row.review == "unreviewed")
        )


def ledger_dir(ledger: Path) -> Path:
    try:
        is_dir = ledger.is_dir()
    except OSError as exc:
        raise UsageError(f"ledger {ledger}: {exc.strerror}") from None
    if not is_dir:
        raise UsageError(f"ledger {ledger} is not a directory")
    return ledger


def list_runs(ledger: Path, registry: Registry, filters: RunFilters | None = None) -> RunList:
    filters = filters or RunFilters()
    rows: list[RunRow] = []
    unreadable: list[str] = []
    cache = RowCache(ledger_dir(ledger), _prices(registry))
    for path in pack_dirs(ledger):
        print_ = fingerprint(path)
        row = cache.get(path, print_)
        if row is None:
            try:
                view = load_pack(path)
            except PackReadError as error:
                unreadable.append(error.message)
                continue
            row = run_row(view, registry)
            cache.put(path.name, print_, row)
        if filters.keep(row):
            rows.append(row)
    cache.save()
    rows = with_governance(ledger, rows)
    rows.sort(key=lambda r: (r.sequence, r.pack_path), reverse=True)
    return RunList(ledger=str(ledger), runs=rows, unreadable=unreadable)


def _prices(registry: Registry) -> str:
    """The registry's prices, on which the cost of a pack without recorded cost rests."""
    return ";".join(
        f"{name}={m.cost_per_1k_input!r}/{m.cost_per_1k_output!r}"
        for name, m in sorted(registry.models.items())
    )


def run_row(view: PackView, registry: Registry) -> RunRow:
    index = view.index
    problems = list(view.problems)
    review, reviewer = _review(view.path, problems)
    costs = [call.cost_usd(registry) for call in calls(view)]
    # A call the index records whose output file does not read has an unknown cost.
    lost = (index.proposer is not None and view.proposer is None) or (
        index.critic is not None and view.critic is None
    )
    priced = not lost and all(c is not None for c in costs)
    cost = sum(c for c in costs if c is not None) if priced else None
    return RunRow(
        sequence=index.sequence,
        pack_id=index.evidence_pack_id,
        pack_path=str(view.path),
        layer_id=index.layer_id,
        mode=index.mode,
        status=index.status,
        critic_decision=critic_decision(view),
        review=review,
        reviewer=reviewer,
        proposer_model=_answered(view.proposer),
        critic_model=_answered(view.critic),
        cost_usd=cost,
        spent=index.mode not in NOT_SPENT_MODES,
        created=index.creation_timestamp,
        problems=problems,
    )


def critic_decision(view: PackView) -> str | None:
    decision = view.critic.get("decision") if view.critic else None
    return decision if isinstance(decision, str) else None


def _answered(doc: dict[str, object] | None) -> str | None:
    """The registry model whose answer the output file records (``None``: no answer)."""
    if doc is None or doc.get("outcome") not in ("completed", "refused", "incomplete"):
        return None
    model = doc.get("model_id")
    return model if isinstance(model, str) and model else None


def _review(path: Path, problems: list[str]) -> tuple[ReviewState, str | None]:
    try:
        review = read_review(path)
    except ValueError as error:
        problems.append(str(error))
        return "invalid", None
    if review is None:
        return "unreviewed", None
    return review.decision, review.reviewer
